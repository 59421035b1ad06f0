"""Checks on what people send: content items, references and attachments.

Services call these before writing, so the REST API and the websocket refuse
the same input with the same error codes.
"""

import uuid

from django.conf import settings

from .errors import (
    ContentTooLong,
    EmptyContent,
    InvalidAttachment,
    InvalidContent,
    TooLarge,
    TooManyAttachments,
    TooManyReferences,
)
from .models import Attachment, Reference
from .serialization import searchable_text

# Item types a person may send, with the fields each one needs (one of each tuple).
INPUT_TYPES = {
    "input_text": [("text",)],
    "input_image": [("image_url", "file_id")],
    "input_file": [("file_id", "file_url", "file_data")],
}
# Fields that are text whichever item carries them (a file_id is looked up as an upload).
TEXT_FIELDS = ("text", "image_url", "file_id", "file_url", "file_data", "filename")
REFERENCE_FIELDS = ("type", "name", "url", "content")
IMAGE_URL_PREFIXES = ("https://", "http://", "data:image/")
# What an upload request carries besides the file: multipart boundaries, part headers and
# the file's name.
UPLOAD_ENVELOPE_BYTES = 64 * 1024


def _check_item(position: int, item) -> dict:
    where = f"content[{position}]"
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise InvalidContent(f'{where} must be an object with a "type".')
    required = INPUT_TYPES.get(item["type"])
    if required is None:
        known = ", ".join(INPUT_TYPES)
        raise InvalidContent(f"{where} has unknown type {item['type']!r}; use one of {known}.")
    for key in TEXT_FIELDS:
        if item.get(key) is not None and not isinstance(item[key], str):
            raise InvalidContent(f"{where}.{key} must be a string.")
    for alternatives in required:
        if all(item.get(key) in (None, "") for key in alternatives):
            raise InvalidContent(f"{where} ({item['type']}) needs {' or '.join(alternatives)}.")
    image_url = item.get("image_url") if item["type"] == "input_image" else None
    if image_url and not image_url.startswith(IMAGE_URL_PREFIXES):
        raise InvalidContent(f"{where}.image_url must be an http(s) URL or a data:image URL.")
    return dict(item)


def _attachment_items(owner_id, attachment_ids) -> list[dict]:
    if not isinstance(attachment_ids, list | tuple):
        raise InvalidAttachment("attachments must be a list of attachment ids.")
    if not attachment_ids:
        return []  # most messages: not even a query to build
    limit = settings.CHAT_MAX_ATTACHMENTS
    if len(attachment_ids) > limit:
        raise TooManyAttachments(f"At most {limit} attachments per message.")
    try:
        ids = [uuid.UUID(str(value)) for value in attachment_ids]
    except ValueError:
        raise InvalidAttachment("attachments must be attachment ids (UUIDs).") from None
    found = Attachment.objects.filter(owner_id=owner_id, id__in=ids).in_bulk()
    items = []
    for attachment_id in ids:
        attachment = found.get(attachment_id)
        if attachment is None:
            raise InvalidAttachment(f"Attachment {attachment_id} is not one of your uploads.")
        if attachment.content_type.startswith("image/"):
            items.append({"type": "input_image", "file_id": str(attachment.id)})
        else:
            items.append(
                {"type": "input_file", "file_id": str(attachment.id), "filename": attachment.name}
            )
    return items


def _check_file_ids(owner_id, items: list[dict]) -> None:
    ids = {item["file_id"] for item in items if item.get("file_id")}
    if not ids:
        return
    try:
        parsed = {uuid.UUID(value) for value in ids}
    except ValueError:
        raise InvalidAttachment("file_id must be an attachment id (UUID).") from None
    owned = set(
        Attachment.objects.filter(owner_id=owner_id, id__in=parsed).values_list("id", flat=True)
    )
    missing = parsed - owned
    if missing:
        raise InvalidAttachment(f"Attachment {sorted(map(str, missing))[0]} is not yours.")


def parse_user_content(content, *, owner_id, attachments=()) -> list[dict]:
    """A user's content (text or items, plus attachment ids) as checked flat items."""
    if isinstance(content, str):
        items = [{"type": "input_text", "text": content}] if content.strip() else []
    elif isinstance(content, list):
        items = [_check_item(position, item) for position, item in enumerate(content)]
    elif content is None:
        items = []
    else:
        raise InvalidContent("content must be a string or a list of content items.")
    _check_file_ids(owner_id, items)
    items += _attachment_items(owner_id, list(attachments or ()))
    items = [item for item in items if item["type"] != "input_text" or item["text"].strip() != ""]
    if not items:
        raise EmptyContent("The message is empty: send some text, an image or a file.")
    length = sum(len(searchable_text(item)) for item in items)
    limit = settings.CHAT_MAX_MESSAGE_CHARS
    if length > limit:
        raise ContentTooLong(
            f"The message has {length} characters; the limit is {limit}. Shorten it or split it."
        )
    return items


def parse_references(references) -> list[dict]:
    """References as `{"type", "name", "url", "content"}` dicts, checked."""
    if references is None:
        return []
    if not isinstance(references, list):
        raise InvalidContent("references must be a list of objects.")
    limit = settings.CHAT_MAX_REFERENCES
    if len(references) > limit:
        raise TooManyReferences(f"At most {limit} references per message.")
    parsed = []
    total = 0
    for position, reference in enumerate(references):
        if not isinstance(reference, dict):
            raise InvalidContent(f"references[{position}] must be an object.")
        for key in REFERENCE_FIELDS:
            if reference.get(key) is not None and not isinstance(reference[key], str):
                raise InvalidContent(f"references[{position}].{key} must be a string.")
        if not (reference.get("content") or reference.get("url")):
            raise InvalidContent(f"references[{position}] needs content or url.")
        for key in ("type", "name", "url"):
            limit = Reference._meta.get_field(key).max_length
            if len(reference.get(key) or "") > limit:
                raise InvalidContent(f"references[{position}].{key} is over {limit} characters.")
        total += len(reference.get("content") or "")
        parsed.append({key: reference.get(key) or "" for key in REFERENCE_FIELDS})
        parsed[-1]["type"] = parsed[-1]["type"] or "text"
    limit = settings.CHAT_MAX_MESSAGE_CHARS
    if total > limit:
        raise ContentTooLong(f"The references have {total} characters; the limit is {limit}.")
    return parsed


def check_upload_size(size: int, *, envelope: int = 0) -> None:
    """Refuse an upload of `size` bytes over CHAT_MAX_ATTACHMENT_BYTES; `envelope` allows
    for what a request's Content-Length counts besides the file."""
    limit = settings.CHAT_MAX_ATTACHMENT_BYTES
    if size > limit + envelope:
        raise TooLarge(f"The upload has {size} bytes; a file may have {limit}.")

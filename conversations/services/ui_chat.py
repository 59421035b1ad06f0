"""The AI SDK's chat requests (`POST /api/chat`, what `useChat` sends) mapped onto the
message tree.

A request names its chat by an id the client chose: a chat id this user has not used
makes a conversation remembered under it (`Conversation.chat_id`, per owner), and a
conversation's own id works too. The stored branch is the truth, so a request's
`messages` are read only for the message it submits. `submit-message` appends the last
message under the current leaf (its client id is the reply's idempotency key, so a
request sent twice stores nothing twice); `submit-message` with `messageId` edits that
user message (a new branch); `regenerate-message` writes a sibling of the reply (of the
current leaf's, or of the message `messageId` names).
"""

import base64
import binascii
import uuid
from urllib.parse import unquote_to_bytes

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from .. import selectors
from ..errors import InvalidAttachment, InvalidContent, NotEditable, NotResettable
from ..models import Conversation, Message
from .conversations import conversation_create
from .messages import message_continue, message_edit, message_reset
from .sharing import attachment_create

TRIGGERS = ("submit-message", "regenerate-message")
# The idempotency key of a reply to a user message the client sent with id `<id>`.
IDEMPOTENCY_PREFIX = "aisdk:"
# UI parts of a user message that carry nothing for the model.
IGNORED_PARTS = ("step-start", "source-url", "source-document")


def chat_conversation(*, owner, chat_id: str) -> Conversation:
    """The owner's conversation for `chat_id`, made (and remembered under it) when the
    owner has none."""
    found = selectors.chat_find_for_user(user=owner, chat_id=chat_id)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            conversation = conversation_create(owner=owner)
            conversation.chat_id = chat_id
            conversation.save(update_fields=["chat_id"])
            return conversation
    except IntegrityError:
        # Another request made it meanwhile.
        return Conversation.objects.get(owner=owner, chat_id=chat_id)


def _client_id(message, where: str) -> str:
    value = message.get("id") if isinstance(message, dict) else None
    if not isinstance(value, str) or not value or len(value) > 200 or not value.isprintable():
        raise InvalidContent(f"{where}.id must be a message id (at most 200 characters).")
    return value


def _data_url_upload(url: str, media_type: str, filename: str, where: str) -> SimpleUploadedFile:
    """The file a `data:` URL holds, as an upload."""
    header, comma, data = url[len("data:") :].partition(",")
    if not comma:
        raise InvalidAttachment(f"{where}.url is not a valid data URL.")
    try:
        if header.endswith(";base64"):
            body = base64.b64decode(data, validate=True)
        else:
            body = unquote_to_bytes(data)
    except (binascii.Error, ValueError):
        raise InvalidAttachment(f"{where}.url holds invalid base64.") from None
    declared = header.removesuffix(";base64").split(";", 1)[0]
    return SimpleUploadedFile(filename or "upload", body, content_type=declared or media_type)


def _file_item(owner, part: dict, where: str) -> dict:
    """A `file` part as a content item: a data URL is stored as an upload (as
    `/api/attachments/` stores one), an http(s) URL is kept as a link."""
    url, media_type = part.get("url"), part.get("mediaType")
    filename = part.get("filename") or ""
    if not isinstance(url, str) or not isinstance(media_type, str) or not isinstance(filename, str):
        raise InvalidContent(f"{where} needs a url and a mediaType (strings).")
    image = media_type.startswith("image/")
    if url.startswith("data:"):
        upload = attachment_create(
            owner=owner, file=_data_url_upload(url, media_type, filename, where)
        )
        if upload.content_type.startswith("image/"):
            return {"type": "input_image", "file_id": str(upload.id)}
        return {"type": "input_file", "file_id": str(upload.id), "filename": upload.name}
    if not url.startswith(("https://", "http://")):
        raise InvalidContent(f"{where}.url must be a data: or http(s) URL.")
    if image:
        return {"type": "input_image", "image_url": url}
    return {"type": "input_file", "file_url": url, **({"filename": filename} if filename else {})}


def ui_message_items(*, owner, message: dict, where: str) -> list[dict]:
    """A user's UIMessage as content items: its text and file parts (the parts that carry
    nothing for the model are skipped)."""
    parts = message.get("parts")
    if message.get("role") != "user":
        raise InvalidContent(f"{where} must be a user message: it is the one submitted.")
    if not isinstance(parts, list):
        raise InvalidContent(f"{where}.parts must be a list.")
    items = []
    for position, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        place = f"{where}.parts[{position}]"
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise InvalidContent(f"{place}.text must be a string.")
            items.append({"type": "input_text", "text": part["text"]})
        elif kind == "file":
            items.append(_file_item(owner, part, place))
        elif kind not in IGNORED_PARTS and not str(kind).startswith("data-"):
            raise InvalidContent(f"{place} has type {kind!r}; a user message has text and files.")
    return items


def _stored_message(conversation: Conversation, client_id: str) -> Message | None:
    """The message a client's id names: a stored message's own id, or the user message
    the client sent with that id (found by its reply's idempotency key)."""
    try:
        found = Message.objects.filter(conversation=conversation, id=uuid.UUID(client_id)).first()
    except ValueError:
        found = None
    if found is not None:
        return found
    reply = (
        Message.objects.filter(
            conversation=conversation, idempotency_key=IDEMPOTENCY_PREFIX + client_id
        )
        .select_related("parent")
        .first()
    )
    return reply.parent if reply is not None else None


def _regenerate(
    conversation: Conversation, message_id: str | None, model: str
) -> tuple[Message, bool]:
    target = _stored_message(conversation, message_id) if message_id else None
    if message_id and target is None:
        raise NotResettable(f"messageId {message_id} is not a message of this chat.")
    if target is None:
        target = conversation.current_leaf
    if target is None:
        raise NotResettable("This chat has no message to answer again.")
    if target.role == Message.Role.USER:
        # Answer it again: beside its newest reply, or anew when its reply was deleted.
        replies = target.children.filter(role=Message.Role.ASSISTANT).order_by("-created_at")
        target = replies.first() or target
    return message_reset(message=target, model=model)


def _edit(
    conversation: Conversation, messages: list, message_id: str, model: str
) -> tuple[Message, bool]:
    """A new version of the user message `message_id` names, with the parts the request
    gives it (the client keeps that id for the new version)."""
    edited = _stored_message(conversation, message_id)
    if edited is None:
        raise NotEditable(f"messageId {message_id} is not a message of this chat.")
    ids = [message.get("id") if isinstance(message, dict) else None for message in messages]
    if message_id not in ids:
        raise InvalidContent(f"messages holds no message {message_id}, the one edited.")
    position = ids.index(message_id)
    with transaction.atomic():
        items = ui_message_items(
            owner=conversation.owner, message=messages[position], where=f"messages[{position}]"
        )
        return message_edit(message=edited, content=items, model=model)


def _submit(owner, chat_id: str, messages: list, model: str) -> tuple[Conversation, Message, bool]:
    """The last message stored under the branch's end, with its reply; or, sent before,
    the reply it has."""
    where = f"messages[{len(messages) - 1}]"
    key = IDEMPOTENCY_PREFIX + _client_id(messages[-1], where)
    found = selectors.chat_find_for_user(user=owner, chat_id=chat_id)
    sent_before = found and Message.objects.filter(conversation=found, idempotency_key=key).first()
    if sent_before:
        return found, sent_before, False
    with transaction.atomic():
        items = ui_message_items(owner=owner, message=messages[-1], where=where)
        conversation = chat_conversation(owner=owner, chat_id=chat_id)
        reply, created = message_continue(
            owner=owner,
            conversation_id=conversation.id,
            content=items,
            idempotency_key=key,
            model=model,
        )
    return conversation, reply, created


def chat_submit(
    *,
    owner,
    chat_id: str,
    messages: list,
    trigger: str,
    message_id: str | None = None,
    model: str = "",
) -> tuple[Conversation, Message, bool]:
    """Carry out one `POST /api/chat` as the module says, the reply written by `model`
    when given (as `message_continue` checks it). Returns `(conversation, reply,
    created)`: the reply to stream (`created` False: a request sent again, whose reply
    exists), `in_progress` or `queued`, for the caller to hand to
    `generation.reply_start`."""
    if trigger not in TRIGGERS:
        raise InvalidContent(f"trigger must be one of {', '.join(TRIGGERS)}.")
    if not isinstance(messages, list) or not messages:
        raise InvalidContent("messages must be a non-empty list.")
    if trigger == "submit-message" and not message_id:
        return _submit(owner, chat_id, messages, model)
    conversation = selectors.chat_get_for_user(user=owner, chat_id=chat_id)
    if trigger == "regenerate-message":
        return conversation, *_regenerate(conversation, message_id, model)
    return conversation, *_edit(conversation, messages, message_id, model)

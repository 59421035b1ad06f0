"""Import: a conversation read back from its export (`selectors.conversation_export`)."""

import uuid
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..errors import InvalidImport
from ..models import ContentItem, Conversation, Feedback, Message, Reference
from ..serialization import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    content_item_from_dict,
    reference_from_dict,
    storable,
)
from .messages import UNFINISHED


def _import_time(value, where: str):
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidImport(f"{where} must be an ISO 8601 date-time.")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    try:
        # Stored and read back in UTC: a time whose UTC falls outside years 1 to 9999
        # could be stored but never read again.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidImport(f"{where} is out of range.") from None


def _import_text(value, model, field: str, where: str) -> None:
    """Refuse a type or URL that does not fit its column: cutting it would change it."""
    limit = model._meta.get_field(field).max_length
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise InvalidImport(f"{where} must be text of at most {limit} characters.")


def _import_check(data) -> tuple[dict, list[dict]]:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidImport(f'Not a conversation export (expected "format": "{EXPORT_FORMAT}").')
    if data.get("version") != EXPORT_VERSION:
        raise InvalidImport(f"Export version {data.get('version')!r} is not supported (use 1).")
    meta, messages = data.get("conversation"), data.get("messages")
    if not isinstance(meta, dict) or not isinstance(messages, list):
        raise InvalidImport('An export needs a "conversation" object and a "messages" list.')
    tools, context = meta.get("tools") or [], meta.get("context") or {}
    # The API shows tools as a list of objects: anything else would break every listing.
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        raise InvalidImport("conversation.tools must be a list of objects.")
    if not isinstance(context, dict):
        raise InvalidImport("conversation.context must be an object.")
    if len(messages) > settings.CHAT_IMPORT_MAX_MESSAGES:
        raise InvalidImport(f"At most {settings.CHAT_IMPORT_MAX_MESSAGES} messages per import.")
    ids = set()
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise InvalidImport(f"{where} needs an id.")
        if message["id"] in ids:
            raise InvalidImport(f"{where}.id repeats an earlier message's id.")
        parent_id = message.get("parent_id")
        if parent_id is not None and (not isinstance(parent_id, str) or parent_id not in ids):
            raise InvalidImport(f"{where}.parent_id must name an earlier message.")
        if message.get("role") not in Message.Role.values:
            raise InvalidImport(f"{where}.role must be one of {', '.join(Message.Role.values)}.")
        if message.get("status", "completed") not in Message.Status.values:
            raise InvalidImport(f"{where}.status is not a message status.")
        items = message.get("content", [])
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and isinstance(item.get("type"), str) for item in items
        ):
            raise InvalidImport(f'{where}.content must be a list of items with a "type".')
        for index, item in enumerate(items):
            _import_text(item["type"], ContentItem, "type", f"{where}.content[{index}].type")
        references = message.get("references", [])
        if not isinstance(references, list):
            raise InvalidImport(f"{where}.references must be a list.")
        for index, reference in enumerate(references):
            for key in ("type", "url") if isinstance(reference, dict) else ():
                place = f"{where}.references[{index}].{key}"
                _import_text(reference.get(key), Reference, key, place)
        ids.add(message["id"])
    return meta, messages


@transaction.atomic
def conversation_import(*, owner, data) -> Conversation:
    """A new conversation from `selectors.conversation_export` output (new ids, same tree,
    content, references and the owner's feedback). Replies that were still waiting or
    running are imported as `incomplete`."""
    # Text is kept as it is stored everywhere: U+0000 and lone surrogates as U+FFFD.
    meta, messages = _import_check(storable(data))
    try:
        conversation = Conversation.objects.create(
            owner=owner,
            title=str(meta.get("title") or "")[:200],
            system_prompt=str(meta.get("system_prompt") or ""),
            model=str(meta.get("model") or "")[:200],
            tools=meta.get("tools") or [],
            context=meta.get("context") or {},
            archived=bool(meta.get("archived", False)),
            created_at=_import_time(meta.get("created_at"), "conversation.created_at")
            or timezone.now(),
        )
        new_ids = {}
        rows, items, references, feedback = [], [], [], []
        for position, data_message in enumerate(messages):
            where = f"messages[{position}]"
            status = data_message.get("status", "completed")
            if status in UNFINISHED:
                status = Message.Status.INCOMPLETE
            message = Message(
                id=uuid.uuid4(),
                conversation=conversation,
                parent_id=new_ids.get(data_message.get("parent_id")),
                role=data_message["role"],
                status=status,
                model=str(data_message.get("model") or "")[:200],
                error=data_message.get("error"),
                usage=data_message.get("usage"),
                flags=data_message.get("flags"),
                created_at=_import_time(data_message.get("created_at"), f"{where}.created_at")
                or timezone.now(),
                completed_at=_import_time(
                    data_message.get("completed_at"), f"{where}.completed_at"
                ),
            )
            new_ids[data_message["id"]] = message.id
            rows.append(message)
            items += [
                content_item_from_dict(item, message=message, index=i, render=True)
                for i, item in enumerate(data_message.get("content", []))
            ]
            # Names are cut to their column like titles: they are only shown.
            references += [
                reference_from_dict(
                    {**ref, "name": str(ref.get("name") or "")[:200]}, message=message, index=i
                )
                for i, ref in enumerate(data_message.get("references", []))
                if isinstance(ref, dict)
            ]
            rating = data_message.get("feedback")
            if isinstance(rating, dict) and rating.get("rating") in Feedback.Rating.values:
                feedback.append(
                    Feedback(
                        message=message,
                        user=owner,
                        rating=rating["rating"],
                        comment=str(rating.get("comment") or ""),
                        reasons=rating.get("reasons") or [],
                        model=message.model,
                    )
                )
        Message.objects.bulk_create(rows)
        ContentItem.objects.bulk_create(items)
        Reference.objects.bulk_create(references)
        Feedback.objects.bulk_create(feedback)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidImport(f"The export could not be read: {exc}") from None
    leaf_id = meta.get("current_leaf_id")
    leaf = new_ids.get(leaf_id) if isinstance(leaf_id, str) else None
    if leaf is None and rows:
        leaf = rows[-1].id
    conversation.current_leaf_id = leaf
    conversation.save(update_fields=["current_leaf", "updated_at"])
    return conversation

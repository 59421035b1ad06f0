"""Every write to conversations, messages, feedback and shares goes through here.

Tree writes (append, edit, reset, cancel, delete, switch) lock the conversation
row first, so two requests at once never lose a message or leave
`current_leaf` on a deleted node. Events go out after commit.
"""

import logging
import re
import secrets
import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import selectors
from .content import parse_references, parse_user_content
from .errors import (
    ContentFlagged,
    GenerationBusy,
    InvalidAttachment,
    InvalidFeedback,
    InvalidIdempotencyKey,
    InvalidImport,
    InvalidParent,
    InvalidShare,
    ModerationUnavailable,
    NotEditable,
    NotResettable,
    NotRunning,
)
from .events import finished_event, send_event_on_commit, send_to_runner_on_commit
from .llm import model_name
from .llm.base import ProviderError
from .llm.moderation import moderate, refuses
from .models import Attachment, ContentItem, Conversation, Feedback, Message, Reference, Share
from .serialization import (
    content_item_from_dict,
    message_to_dict,
    reference_from_dict,
    reference_to_dict,
    searchable_text,
)

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "chatproject.conversation"
EXPORT_VERSION = 1
UNFINISHED = (Message.Status.QUEUED, Message.Status.IN_PROGRESS)


def user_ensure_demo(*, username: str, password: str) -> tuple:
    """Create the demo login unless it exists; returns (user, created)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, created


# Conversations


def _conversation_event(conversation: Conversation) -> None:
    send_event_on_commit(
        conversation.id,
        {
            "type": "conversation.updated",
            "conversation": {
                "id": str(conversation.id),
                "title": conversation.title,
                "archived": conversation.archived,
                "current_leaf_id": str(conversation.current_leaf_id)
                if conversation.current_leaf_id
                else None,
            },
        },
    )


@transaction.atomic
def conversation_create(
    *,
    owner,
    title: str = "",
    system_prompt: str = "",
    model: str = "",
    tools: list | None = None,
    context: dict | None = None,
) -> Conversation:
    """A new conversation; with CHAT_WELCOME_MESSAGE set, it opens with that greeting
    (stored as a completed assistant message, the model is not called)."""
    conversation = Conversation.objects.create(
        owner=owner,
        title=title,
        system_prompt=system_prompt,
        model=model,
        tools=tools or [],
        context=context or {},
    )
    if settings.CHAT_WELCOME_MESSAGE:
        welcome = _message_create(
            conversation=conversation,
            parent=None,
            role=Message.Role.ASSISTANT,
            items=[{"type": "output_text", "text": settings.CHAT_WELCOME_MESSAGE}],
            completed_at=timezone.now(),
        )
        conversation.current_leaf = welcome
        conversation.save(update_fields=["current_leaf", "updated_at"])
    return conversation


def conversation_update(
    *,
    conversation: Conversation,
    title: str | None = None,
    system_prompt: str | None = None,
    model: str | None = None,
    tools: list | None = None,
    context: dict | None = None,
    archived: bool | None = None,
) -> Conversation:
    """Rename, archive, change the prompt or model; `context` is merged shallowly
    (a key set to null is removed)."""
    fields = []
    for name, value in (
        ("title", title),
        ("system_prompt", system_prompt),
        ("model", model),
        ("tools", tools),
        ("archived", archived),
    ):
        if value is not None:
            setattr(conversation, name, value)
            fields.append(name)
    with transaction.atomic():
        if context is not None:
            # The merge reads the stored context under the lock, not a stale copy.
            locked = Conversation.objects.select_for_update().get(id=conversation.id)
            merged = {**locked.context, **context}
            conversation.context = {
                key: value for key, value in merged.items() if value is not None
            }
            fields.append("context")
        if fields:
            conversation.save(update_fields=[*fields, "updated_at"])
            _conversation_event(conversation)
    return conversation


def conversation_set_archived(*, conversation: Conversation, archived: bool) -> Conversation:
    """Archive or restore a conversation."""
    return conversation_update(conversation=conversation, archived=archived)


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation with all its messages, feedback and shares."""
    # Cut the leaf pointer first so the cascade never trips over it.
    Conversation.objects.filter(id=conversation.id).update(current_leaf=None)
    conversation.delete()


@transaction.atomic
def conversation_switch_branch(*, conversation: Conversation, message: Message) -> Conversation:
    """Show the branch through `message`: the newest leaf under it becomes current."""
    locked = _lock(conversation.id)
    if message.conversation_id != locked.id:
        raise InvalidParent("That message is not in this conversation.")
    locked.current_leaf_id = selectors.message_newest_leaf_id(message=message)
    locked.save(update_fields=["current_leaf", "updated_at"])
    _conversation_event(locked)
    return locked


# Messages and replies


def _lock(conversation_id) -> Conversation:
    """The conversation row, locked until the transaction ends (serializes tree writes)."""
    return Conversation.objects.select_for_update().get(id=conversation_id)


def _message_create(*, conversation, parent, role, items=(), references=(), **fields) -> Message:
    message = Message.objects.create(conversation=conversation, parent=parent, role=role, **fields)
    ContentItem.objects.bulk_create(
        [content_item_from_dict(item, message=message, index=i) for i, item in enumerate(items)]
    )
    Reference.objects.bulk_create(
        [reference_from_dict(ref, message=message, index=i) for i, ref in enumerate(references)]
    )
    return message


def _check_idempotency_key(key: str) -> str:
    key = key or ""
    if len(key) > 200 or not key.isprintable():
        raise InvalidIdempotencyKey()
    return key


def _idempotent_reply(conversation: Conversation, key: str) -> Message | None:
    if not key:
        return None
    return Message.objects.filter(conversation=conversation, idempotency_key=key).first()


def _reply_create(*, conversation: Conversation, parent: Message, idempotency_key: str) -> Message:
    """An assistant reply under `parent`: `in_progress` when nothing else runs in the
    conversation, else `queued` (up to CHAT_QUEUE_LIMIT waiting, then GenerationBusy)."""
    statuses = list(
        Message.objects.filter(conversation=conversation, status__in=UNFINISHED).values_list(
            "status", flat=True
        )
    )
    if not statuses:
        status = Message.Status.IN_PROGRESS
    elif statuses.count(Message.Status.QUEUED) < settings.CHAT_QUEUE_LIMIT:
        status = Message.Status.QUEUED
    else:
        raise GenerationBusy(
            "A reply is being written and "
            f"{settings.CHAT_QUEUE_LIMIT} more are waiting: try again when it has finished."
        )
    return _message_create(
        conversation=conversation,
        parent=parent,
        role=Message.Role.ASSISTANT,
        status=status,
        model=model_name(conversation.model),
        idempotency_key=idempotency_key,
    )


def _auto_title(items: list[dict]) -> str:
    text = " ".join(searchable_text(item) for item in items if item["type"] == "input_text")
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= 60 else text[:59].rstrip() + "…"


def _announce_created(conversation: Conversation, *messages: Message) -> None:
    for message in messages:
        send_event_on_commit(
            conversation.id,
            {"type": "message.created", "message": message_to_dict(message, rendered=True)},
        )
    _conversation_event(conversation)


def _moderated(items: list[dict], references: list[dict]) -> dict | None:
    """The moderation flags of what the user sends (None when moderation is off); refuses
    flagged input when MODERATION_ACTION is `refuse`. Called before any lock is taken."""
    text = "\n\n".join(
        [searchable_text(item) for item in items if item["type"] == "input_text"]
        + [reference["content"] for reference in references]
    )
    try:
        flags = moderate(text)
    except ProviderError as exc:
        if settings.MODERATION_ACTION == "refuse":
            raise ModerationUnavailable() from exc
        logger.warning("Moderation failed (%s); the message is stored unchecked", exc.code)
        return None
    if refuses(flags):
        raise ContentFlagged(
            "This message was flagged by moderation ("
            + ", ".join(flags["categories"] or ["unspecified"])
            + ") and was not sent."
        )
    return flags


def _append_turn(
    *, conversation: Conversation, parent, items, references, flags, idempotency_key
) -> Message:
    """User message under `parent`, its reply, current leaf on the reply (lock held)."""
    user_message = _message_create(
        conversation=conversation,
        parent=parent,
        role=Message.Role.USER,
        items=items,
        references=references,
        flags=flags,
        completed_at=timezone.now(),
    )
    reply = _reply_create(
        conversation=conversation, parent=user_message, idempotency_key=idempotency_key
    )
    conversation.current_leaf = reply
    fields = ["current_leaf", "updated_at"]
    if not conversation.title:
        conversation.title = _auto_title(items)
        fields.append("title")
    conversation.save(update_fields=fields)
    _announce_created(conversation, user_message, reply)
    return reply


@transaction.atomic
def message_continue(
    *,
    conversation: Conversation,
    content,
    parent_id=None,
    references: list | None = None,
    attachments: list | tuple = (),
    idempotency_key: str = "",
) -> tuple[Message, bool]:
    """Append a user message (under the current leaf, or `parent_id`) and its reply.

    Returns `(reply, created)` like `get_or_create`: the new reply, `in_progress` (the
    caller runs it: `generation.run_reply`) or `queued` behind a running one; or, for an
    `idempotency_key` already used in this conversation, that reply and False.
    """
    idempotency_key = _check_idempotency_key(idempotency_key)
    items = parse_user_content(content, owner=conversation.owner, attachments=attachments)
    references = parse_references(references)
    flags = _moderated(items, references)
    locked = _lock(conversation.id)
    existing = _idempotent_reply(locked, idempotency_key)
    if existing is not None:
        return existing, False
    if parent_id:
        try:
            parent = Message.objects.get(conversation=locked, id=uuid.UUID(str(parent_id)))
        except (ValueError, Message.DoesNotExist):
            raise InvalidParent(
                f"parent_id {parent_id} is not a message of this conversation."
            ) from None
        if parent.role == Message.Role.USER:
            raise InvalidParent("parent_id names a user message: reply under an answer instead.")
    else:
        parent = locked.current_leaf
    reply = _append_turn(
        conversation=locked,
        parent=parent,
        items=items,
        references=references,
        flags=flags,
        idempotency_key=idempotency_key,
    )
    return reply, True


@transaction.atomic
def message_edit(
    *,
    message: Message,
    content,
    references: list | None = None,
    attachments: list | tuple = (),
    idempotency_key: str = "",
) -> tuple[Message, bool]:
    """A new version of a user message: a sibling with the new content and a new reply.
    The old branch stays. References are kept unless new ones are given.
    Returns `(reply, created)` as `message_continue` does."""
    if message.role != Message.Role.USER:
        raise NotEditable("Only your own messages can be edited; regenerate a reply instead.")
    idempotency_key = _check_idempotency_key(idempotency_key)
    conversation = message.conversation
    items = parse_user_content(content, owner=conversation.owner, attachments=attachments)
    if references is None:
        references = [reference_to_dict(ref) for ref in message.references.all()]
    else:
        references = parse_references(references)
    flags = _moderated(items, references)
    locked = _lock(conversation.id)
    existing = _idempotent_reply(locked, idempotency_key)
    if existing is not None:
        return existing, False
    if not Message.objects.filter(id=message.id).exists():
        raise NotEditable("That message was deleted.")
    reply = _append_turn(
        conversation=locked,
        parent=message.parent,
        items=items,
        references=references,
        flags=flags,
        idempotency_key=idempotency_key,
    )
    return reply, True


@transaction.atomic
def message_reset(*, message: Message, idempotency_key: str = "") -> tuple[Message, bool]:
    """A new reply to the same user message, beside `message` (the old one stays).
    Returns `(reply, created)` as `message_continue` does."""
    if message.role != Message.Role.ASSISTANT:
        raise NotResettable("Only assistant replies can be regenerated; edit your message.")
    if message.parent_id is None:
        raise NotResettable("This message answers nothing, so it cannot be regenerated.")
    idempotency_key = _check_idempotency_key(idempotency_key)
    locked = _lock(message.conversation_id)
    existing = _idempotent_reply(locked, idempotency_key)
    if existing is not None:
        return existing, False
    if not Message.objects.filter(id=message.parent_id).exists():
        raise NotResettable("That message was deleted.")
    reply = _reply_create(
        conversation=locked, parent=message.parent, idempotency_key=idempotency_key
    )
    locked.current_leaf = reply
    locked.save(update_fields=["current_leaf", "updated_at"])
    _announce_created(locked, reply)
    return reply, True


@transaction.atomic
def message_cancel(*, message: Message) -> Message:
    """Stop a queued or running reply: status `cancelled`, what arrived is kept (the
    runner sees the status and stops)."""
    _lock(message.conversation_id)
    message = Message.objects.filter(id=message.id).first()
    if message is None or message.is_finished:
        raise NotRunning("This reply has already finished; there is nothing to cancel.")
    message.status = Message.Status.CANCELLED
    message.completed_at = timezone.now()
    message.save(update_fields=["status", "completed_at", "updated_at"])
    send_event_on_commit(
        message.conversation_id,
        {"type": "message.completed", "message": message_to_dict(message, rendered=True)},
    )
    # The runner also notices at its next checkpoint; this stops it at once.
    send_to_runner_on_commit(message.id, {"type": "reply.cancel"})
    return message


@transaction.atomic
def message_delete(*, message: Message) -> None:
    """Delete a message and its subtree; the shown branch falls back to the nearest survivor."""
    # Locking the conversation serializes tree writes, so a concurrent append
    # cannot hang a new message under a node being deleted.
    conversation = _lock(message.conversation_id)
    doomed = set(selectors.message_subtree_ids(message=message))
    if conversation.current_leaf_id in doomed:
        conversation.current_leaf_id = message.parent_id
        conversation.save(update_fields=["current_leaf", "updated_at"])
    Message.objects.filter(id=message.id).delete()
    send_event_on_commit(
        conversation.id,
        {"type": "message.deleted", "message_ids": [str(node) for node in doomed]},
    )
    _conversation_event(conversation)


# The generation queue (used by conversations.generation)


def generation_claim_next(*, conversation_id) -> Message | None:
    """Start the oldest queued reply of the conversation when none is running.

    Returns it, now `in_progress` (the caller runs it), or None. The realtime runner
    calls this when a reply finishes so that the queue drains.
    """
    with transaction.atomic():
        _lock(conversation_id)
        replies = Message.objects.filter(conversation_id=conversation_id, status__in=UNFINISHED)
        if replies.filter(status=Message.Status.IN_PROGRESS).exists():
            return None
        reply = replies.filter(status=Message.Status.QUEUED).order_by("created_at").first()
        if reply is None:
            return None
        reply.status = Message.Status.IN_PROGRESS
        reply.save(update_fields=["status", "updated_at"])
    return reply


def reply_finish(
    *,
    reply_id,
    content: list[dict],
    status: str,
    usage: dict | None = None,
    error: dict | None = None,
) -> Message | None:
    """Store what a reply produced and how it ended. A reply cancelled meanwhile stays
    `cancelled` (its content is still stored); a deleted one is ignored (None)."""
    with transaction.atomic():
        reply = Message.objects.select_for_update().filter(id=reply_id).first()
        if reply is None:
            return None
        if reply.status == Message.Status.CANCELLED:
            status = Message.Status.CANCELLED
        ContentItem.objects.filter(message=reply).delete()
        ContentItem.objects.bulk_create(
            [content_item_from_dict(item, message=reply, index=i) for i, item in enumerate(content)]
        )
        reply.status = status
        reply.usage = usage
        reply.error = error
        reply.completed_at = reply.completed_at or timezone.now()
        reply.save(update_fields=["status", "usage", "error", "completed_at", "updated_at"])
        Conversation.objects.filter(id=reply.conversation_id).update(updated_at=timezone.now())
        reply = selectors.messages_with_content().get(id=reply.id)
        send_event_on_commit(
            reply.conversation_id, finished_event(message_to_dict(reply, rendered=True))
        )
    return reply


def reply_checkpoint(*, reply_id, content: list[dict] | None = None) -> bool:
    """Store what a running reply has so far (None: only show it is alive). False once the
    reply stopped running elsewhere (cancelled, deleted): the runner then stops."""
    with transaction.atomic():
        running = Message.objects.filter(id=reply_id, status=Message.Status.IN_PROGRESS)
        if not running.update(updated_at=timezone.now()):
            return False
        if content is not None:
            reply = Message(id=reply_id)
            ContentItem.objects.filter(message=reply).delete()
            ContentItem.objects.bulk_create(
                [
                    content_item_from_dict(item, message=reply, index=i)
                    for i, item in enumerate(content)
                ]
            )
    return True


def replies_recover_stale(*, older_than) -> list:
    """Mark replies whose runner stopped showing signs of life (a process died) as
    `incomplete`, keeping what was stored. Returns their conversations' ids, whose
    queues the caller drains."""
    cutoff = timezone.now() - older_than
    stale = Message.objects.filter(status=Message.Status.IN_PROGRESS, updated_at__lt=cutoff)
    conversation_ids = []
    for reply_id in stale.values_list("id", flat=True):
        with transaction.atomic():
            reply = stale.select_for_update().filter(id=reply_id).first()
            if reply is None:
                continue
            reply.status = Message.Status.INCOMPLETE
            reply.error = {
                "code": "interrupted",
                "message": "The server stopped while writing this reply; what arrived is kept.",
            }
            reply.completed_at = timezone.now()
            reply.save(update_fields=["status", "error", "completed_at", "updated_at"])
            reply = selectors.messages_with_content().get(id=reply.id)
            send_event_on_commit(
                reply.conversation_id, finished_event(message_to_dict(reply, rendered=True))
            )
        conversation_ids.append(reply.conversation_id)
    return conversation_ids


# Attachments


def attachment_create(*, owner, file) -> Attachment:
    """Store an uploaded image or file; messages refer to it by id (`file_id`)."""
    limit = settings.CHAT_MAX_ATTACHMENT_BYTES
    if file.size > limit:
        raise InvalidAttachment(f"The file has {file.size} bytes; the limit is {limit}.")
    name = (file.name or "upload").rsplit("/", 1)[-1][:255]
    content_type = getattr(file, "content_type", None) or "application/octet-stream"
    return Attachment.objects.create(
        owner=owner, file=file, name=name, content_type=content_type[:100], size=file.size
    )


# Feedback


def feedback_set(
    *, message: Message, user, rating: str, comment: str = "", reasons: list | None = None
) -> Feedback:
    """Rate a reply (one rating per user and message; a new one replaces it)."""
    if message.role != Message.Role.ASSISTANT:
        raise InvalidFeedback("Only assistant replies can be rated.")
    if rating not in Feedback.Rating.values:
        raise InvalidFeedback('rating must be "good" or "bad".')
    reasons = list(reasons or [])
    if not all(isinstance(reason, str) for reason in reasons) or len(reasons) > 20:
        raise InvalidFeedback("reasons must be a list of at most 20 strings.")
    if not isinstance(comment, str) or len(comment) > 10_000:
        raise InvalidFeedback("comment must be a string of at most 10,000 characters.")
    feedback, _ = Feedback.objects.update_or_create(
        message=message,
        user=user,
        defaults={"rating": rating, "comment": comment, "reasons": reasons, "model": message.model},
    )
    return feedback


def feedback_clear(*, message: Message, user) -> None:
    Feedback.objects.filter(message=message, user=user).delete()


# Shares


def share_create(
    *,
    conversation: Conversation,
    user,
    message: Message | None = None,
    selected: list | None = None,
    expires_at: datetime | None = None,
) -> Share:
    """A read-only link to the branch up to `message` (default: the current leaf),
    or to a selection of its messages."""
    if message is None:
        message = conversation.current_leaf
    if message is None:
        raise InvalidShare("The conversation is empty: there is nothing to share yet.")
    if message.conversation_id != conversation.id:
        raise InvalidShare("message_id is not a message of this conversation.")
    if selected is not None:
        path = {
            str(node)
            for node in selectors.message_path_ids(
                conversation_id=conversation.id, leaf_id=message.id
            )
        }
        try:
            selected = [str(uuid.UUID(str(value))) for value in selected]
        except ValueError:
            raise InvalidShare("selected must be a list of message ids.") from None
        if not selected or not set(selected) <= path:
            raise InvalidShare("selected must list messages of the branch being shared.")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidShare("expires_at must be in the future.")
    return Share.objects.create(
        token=secrets.token_urlsafe(32),
        conversation=conversation,
        created_by=user,
        message=message,
        selected=selected,
        expires_at=expires_at,
    )


def share_revoke(*, share: Share) -> Share:
    """Stop a share link from working; revoking twice keeps the first time."""
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
    return share


def share_record_view(*, share: Share) -> None:
    Share.objects.filter(id=share.id).update(view_count=F("view_count") + 1)


# Import


def _import_time(value, where: str):
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidImport(f"{where} must be an ISO 8601 date-time.")
    return parsed


def _import_check(data) -> tuple[dict, list[dict]]:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidImport(f'Not a conversation export (expected "format": "{EXPORT_FORMAT}").')
    if data.get("version") != EXPORT_VERSION:
        raise InvalidImport(f"Export version {data.get('version')!r} is not supported (use 1).")
    meta, messages = data.get("conversation"), data.get("messages")
    if not isinstance(meta, dict) or not isinstance(messages, list):
        raise InvalidImport('An export needs a "conversation" object and a "messages" list.')
    if len(messages) > settings.CHAT_IMPORT_MAX_MESSAGES:
        raise InvalidImport(f"At most {settings.CHAT_IMPORT_MAX_MESSAGES} messages per import.")
    ids = set()
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise InvalidImport(f"{where} needs an id.")
        if message["id"] in ids:
            raise InvalidImport(f"{where}.id repeats an earlier message's id.")
        if message.get("parent_id") is not None and message["parent_id"] not in ids:
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
        if not isinstance(message.get("references", []), list):
            raise InvalidImport(f"{where}.references must be a list.")
        ids.add(message["id"])
    return meta, messages


@transaction.atomic
def conversation_import(*, owner, data) -> Conversation:
    """A new conversation from `selectors.conversation_export` output (new ids, same tree,
    content, references and the owner's feedback). Replies that were still waiting or
    running are imported as `incomplete`."""
    meta, messages = _import_check(data)
    try:
        conversation = Conversation.objects.create(
            owner=owner,
            title=str(meta.get("title") or "")[:200],
            system_prompt=str(meta.get("system_prompt") or ""),
            model=str(meta.get("model") or "")[:200],
            tools=meta.get("tools") if isinstance(meta.get("tools"), list) else [],
            context=meta.get("context") if isinstance(meta.get("context"), dict) else {},
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
                content_item_from_dict(item, message=message, index=i)
                for i, item in enumerate(data_message.get("content", []))
            ]
            references += [
                reference_from_dict(ref, message=message, index=i)
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
    leaf = new_ids.get(meta.get("current_leaf_id"))
    if leaf is None and rows:
        leaf = rows[-1].id
    conversation.current_leaf_id = leaf
    conversation.save(update_fields=["current_leaf", "updated_at"])
    return conversation

"""Messages: continue, edit, reset (each stores a reply to run), cancel and delete.

Tree writes lock the conversation row first, so two requests at once never lose a
message or leave `current_leaf` on a deleted node. Frames go out after commit.
"""

import logging
import re
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import events, selectors
from ..content import parse_references, parse_user_content
from ..errors import (
    ContentFlagged,
    GenerationBusy,
    InvalidIdempotencyKey,
    InvalidParent,
    ModerationUnavailable,
    NotEditable,
    NotResettable,
    NotRunning,
)
from ..llm.base import ProviderError
from ..llm.input import reply_input
from ..llm.moderation import moderate, refuses
from ..model_choices import default_model, model_check
from ..models import ContentItem, Conversation, Message, Reference, Share
from ..quotas import quota_check
from ..reply_tasks import control_on_commit, replies
from ..serialization import (
    content_item_from_dict,
    item_html,
    message_to_dict,
    reference_from_dict,
    reference_to_dict,
    searchable_text,
    storable,
)
from .locking import lock_conversation
from .sharing import shares_revoke_before_delete

logger = logging.getLogger(__name__)

UNFINISHED = (Message.Status.QUEUED, Message.Status.IN_PROGRESS)


def create_messages(*new: tuple[Message, list[dict], list[dict]]) -> None:
    """Store unsaved messages, each given as `(message, items, references)`, parents
    before their children: one statement per table however many there are (no lock, no
    frame). Each then holds its rows, so its frames and its runner read nothing more."""
    content = [
        [
            content_item_from_dict(item, message=m, index=i, render=True)
            for i, item in enumerate(items)
        ]
        for m, items, _ in new
    ]
    references = [
        [reference_from_dict(ref, message=m, index=i) for i, ref in enumerate(refs)]
        for m, _, refs in new
    ]
    Message.objects.bulk_create([message for message, _, _ in new])
    ContentItem.objects.bulk_create([row for rows in content for row in rows])
    Reference.objects.bulk_create([row for rows in references for row in rows])
    for (message, _, _), items, refs in zip(new, content, references, strict=True):
        prefetched(message, content=items, references=refs)


def prefetched(message: Message, *, content=None, references=None) -> None:
    """Give `message` rows just written as its `content_rows` and `reference_rows`, as
    `selectors.messages_with_content` loads them: its frames then read nothing more."""
    if content is not None:
        message.content_rows = list(content)
    if references is not None:
        message.reference_rows = list(references)


def stop_running(messages) -> None:
    """Tell the runners of the replies among `messages` that are running to stop once the
    transaction commits (they are being deleted); each stores nothing more."""
    for reply_id in messages.filter(status=Message.Status.IN_PROGRESS).values_list("id", flat=True):
        control_on_commit(events.reply_control(events.REPLY_CANCEL, reply_id, deleted=True))


def announce_conversation(conversation: Conversation) -> None:
    """Tell the conversation's tabs, after commit, what its title, archive flag and leaf are."""
    events.send_event_on_commit(conversation.id, events.conversation_updated(conversation))


def announce_finished(reply_id) -> Message:
    """The stored reply, its model text rendered for good (checkpoints store the text
    alone: it was still growing); its one final frame goes to the tabs after commit.
    Every end of a reply comes here: finished, cancelled, or found dead."""
    reply = selectors.messages_with_content().get(id=reply_id)
    final_text = [row for row in reply.content_rows if row.type == ContentItem.Type.OUTPUT_TEXT]
    for row in final_text:
        row.html = item_html(row)
    ContentItem.objects.bulk_update(final_text, ["html"])
    announce_final(reply)
    return reply


def announce_final(reply: Message) -> None:
    """Send the ended reply's one final frame to its tabs after commit (prefetch its
    content and references)."""
    events.send_event_on_commit(
        reply.conversation_id, events.message_finished(message_to_dict(reply, rendered=True))
    )


def _check_idempotency_key(key: str) -> str:
    key = key or ""
    if len(key) > 200 or not key.isprintable():
        raise InvalidIdempotencyKey()
    return key


def _idempotent_reply(conversation: Conversation, key: str) -> Message | None:
    if not key:
        return None
    return Message.objects.filter(conversation=conversation, idempotency_key=key).first()


def _reply_create(
    *, conversation: Conversation, parent: Message, idempotency_key: str, asked=()
) -> Message:
    """An assistant reply under `parent`, written by the conversation's model (else the
    default one): `in_progress` when nothing else runs in the conversation, else `queued`
    (up to CHAT_QUEUE_LIMIT waiting, then GenerationBusy). Every turn comes here, so this
    is where the owner's daily token quota refuses one (QuotaExceeded), before anything
    of it is committed. `asked`: the turn's new messages, unsaved (`create_messages`),
    stored with the reply in the same statements; `parent` may be one of them.

    A reply that runs at once is this process's to run (the caller starts it) and
    carries its `model_input`, read under the turn's lock."""
    quota_check(conversation.owner)
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
    running = status == Message.Status.IN_PROGRESS
    reply = Message(
        conversation=conversation,
        parent=parent,
        role=Message.Role.ASSISTANT,
        status=status,
        model=conversation.model or default_model(),
        idempotency_key=idempotency_key,
        runner=replies.process if running else None,
    )
    create_messages(*asked, (reply, [], []))
    if running:
        reply.model_input = reply_input(reply=reply, parent=parent)
    return reply


def _auto_title(items: list[dict]) -> str:
    text = " ".join(searchable_text(item) for item in items if item["type"] == "input_text")
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= 60 else text[:59].rstrip() + "…"


def _announce_created(conversation: Conversation, *messages: Message) -> None:
    """Tell the conversation's tabs, after commit, of new messages and of the conversation
    as it now stands, in one send."""
    frames = [events.message_created(message_to_dict(m, rendered=True)) for m in messages]
    events.send_events_on_commit(
        conversation.id, [*frames, events.conversation_updated(conversation)]
    )


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


def _choose_model(locked: Conversation, model: str) -> list[str]:
    """Remember a turn's chosen `model` (checked by `model_check`) as the conversation's:
    the fields to save."""
    if not model or locked.model == model:
        return []
    locked.model = model
    return ["model"]


def _append_turn(
    *, conversation_id, owner=None, parent_id_for, items, references, idempotency_key, model=""
) -> tuple[Message, bool]:
    """Store a user message under `parent_id_for(locked_conversation)` and its reply, and show
    the reply; or, for an `idempotency_key` used before, return that reply unchanged.
    `model` (an id the picker offers, or empty) is the conversation's model from now on.
    `owner`: a 404 unless the conversation is theirs."""
    idempotency_key = _check_idempotency_key(idempotency_key)
    model = model_check(model)
    flags = _moderated(items, references)
    locked = lock_conversation(conversation_id, owner=owner, turn=True)
    existing = _idempotent_reply(locked, idempotency_key)
    if existing is not None:
        return existing, False
    fields = ["current_leaf", "updated_at", *_choose_model(locked, model)]
    user_message = Message(
        conversation=locked,
        parent_id=parent_id_for(locked),
        role=Message.Role.USER,
        flags=flags,
        completed_at=timezone.now(),
    )
    reply = _reply_create(
        conversation=locked,
        parent=user_message,
        idempotency_key=idempotency_key,
        asked=[(user_message, items, references)],
    )
    locked.current_leaf = reply
    if not locked.title:
        locked.title = storable(_auto_title(items))
        fields.append("title")
    locked.save(update_fields=fields)
    _announce_created(locked, user_message, reply)
    return reply, True


@transaction.atomic
def message_continue(
    *,
    owner,
    conversation_id,
    content,
    parent_id=None,
    references: list | None = None,
    attachments: list | tuple = (),
    idempotency_key: str = "",
    model: str = "",
) -> tuple[Message, bool]:
    """Append a user message (under the current leaf, or `parent_id`) and its reply to
    `owner`'s conversation `conversation_id` (a 404 when it is not theirs: the caller
    need not read it first), written by `model` when given (InvalidModel unless the
    picker offers it; the conversation keeps it), else by the conversation's model.

    Returns `(reply, created)` like `get_or_create`: the new reply, `in_progress` or
    `queued` behind a running one (the caller hands it to `generation.reply_start`); or,
    for an `idempotency_key` already used in this conversation, that reply and False.
    """

    def parent_id_for(locked: Conversation):
        if not parent_id:
            # Its id only: the leaf's row is read with the branch (`reply_input`).
            return locked.current_leaf_id
        try:
            parent = Message.objects.get(conversation=locked, id=uuid.UUID(str(parent_id)))
        except (ValueError, Message.DoesNotExist):
            raise InvalidParent(
                f"parent_id {parent_id} is not a message of this conversation."
            ) from None
        if parent.role == Message.Role.USER:
            raise InvalidParent("parent_id names a user message: reply under an answer instead.")
        return parent.id

    return _append_turn(
        conversation_id=conversation_id,
        owner=owner,
        parent_id_for=parent_id_for,
        items=parse_user_content(content, owner_id=owner.pk, attachments=attachments),
        references=parse_references(references),
        idempotency_key=idempotency_key,
        model=model,
    )


@transaction.atomic
def message_edit(
    *,
    message: Message,
    content,
    references: list | None = None,
    attachments: list | tuple = (),
    idempotency_key: str = "",
    model: str = "",
) -> tuple[Message, bool]:
    """A new version of a user message: a sibling with the new content and a new reply.
    The old branch stays. References are kept unless new ones are given. `model` and
    the result as `message_continue` has them."""
    if message.role != Message.Role.USER:
        raise NotEditable("Only your own messages can be edited; regenerate a reply instead.")
    if references is None:
        references = [reference_to_dict(ref) for ref in message.references.all()]
    else:
        references = parse_references(references)

    def parent_id_for(locked: Conversation):
        if not Message.objects.filter(id=message.id).exists():
            raise NotEditable("That message was deleted.")
        return message.parent_id

    owner_id = message.conversation.owner_id
    return _append_turn(
        conversation_id=message.conversation_id,
        parent_id_for=parent_id_for,
        items=parse_user_content(content, owner_id=owner_id, attachments=attachments),
        references=references,
        idempotency_key=idempotency_key,
        model=model,
    )


@transaction.atomic
def message_reset(
    *, message: Message, idempotency_key: str = "", model: str = ""
) -> tuple[Message, bool]:
    """A new reply to the same user message, beside `message` (the old one stays).

    `message` may also be a user message that ends the shown branch (its reply was
    deleted): it gets a new reply. `model` and the result as `message_continue` has them
    (regenerate with another model).
    """
    answering = message.role == Message.Role.USER
    if not answering and message.role != Message.Role.ASSISTANT:
        raise NotResettable("Only assistant replies can be regenerated.")
    if not answering and message.parent_id is None:
        raise NotResettable("This message answers nothing, so it cannot be regenerated.")
    idempotency_key = _check_idempotency_key(idempotency_key)
    model = model_check(model)
    locked = lock_conversation(message.conversation_id, turn=True)
    existing = _idempotent_reply(locked, idempotency_key)
    if existing is not None:
        return existing, False
    fields = ["current_leaf", "updated_at", *_choose_model(locked, model)]
    question_id = message.id if answering else message.parent_id
    # With its rows: the model reads it (`reply_input`).
    question = selectors.messages_with_content().filter(id=question_id).first()
    if question is None:
        raise NotResettable("That message was deleted.")
    if answering and locked.current_leaf_id != message.id:
        raise NotResettable(
            "This message has its reply: regenerate the reply, or edit your message."
        )
    reply = _reply_create(
        conversation=locked,
        parent=question,
        idempotency_key=idempotency_key,
    )
    locked.current_leaf = reply
    locked.save(update_fields=fields)
    _announce_created(locked, reply)
    return reply, True


@transaction.atomic
def message_cancel(*, message: Message) -> Message:
    """Stop a queued or running reply: status `cancelled`, what arrived is kept.

    A running reply's runner sees the status (told at once, or at its next checkpoint),
    stores what arrived and sends the reply's one final frame. A queued reply never ran,
    so its final frame goes out from here.
    """
    lock_conversation(message.conversation_id)
    message = Message.objects.filter(id=message.id).first()
    if message is None or message.is_finished:
        raise NotRunning("This reply has already finished; there is nothing to cancel.")
    was_running = message.status == Message.Status.IN_PROGRESS
    message.status = Message.Status.CANCELLED
    message.completed_at = timezone.now()
    message.save(update_fields=["status", "completed_at", "updated_at"])
    if was_running:
        control_on_commit(events.reply_control(events.REPLY_CANCEL, message.id))
    else:
        announce_finished(message.id)
    return message


@transaction.atomic
def message_delete(*, message: Message) -> None:
    """Delete a message and its subtree; the shown branch falls back to the nearest survivor."""
    # Locking the conversation serializes tree writes, so a concurrent append
    # cannot hang a new message under a node being deleted.
    conversation = lock_conversation(message.conversation_id)
    doomed = selectors.message_subtree_ids(message=message)
    if conversation.current_leaf_id in doomed:
        conversation.current_leaf_id = message.parent_id
        conversation.save(update_fields=["current_leaf", "updated_at"])
    shares_revoke_before_delete(
        shares=Share.objects.filter(message_id__in=doomed), reason="The shared message was deleted."
    )
    stop_running(Message.objects.filter(id__in=doomed))
    Message.objects.filter(id=message.id).delete()
    events.send_event_on_commit(conversation.id, events.message_deleted(doomed))
    announce_conversation(conversation)

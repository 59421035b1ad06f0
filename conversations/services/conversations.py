"""Conversations: create, update (rename, archive, prompt, model, context), delete, and
switch the branch shown."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import events, selectors
from ..errors import InvalidParent
from ..models import Conversation, Message, Share
from ..serialization import storable
from .locking import lock_conversation, lock_message
from .messages import (
    announce_conversation,
    create_messages,
    message_continue,
    stop_running,
)
from .sharing import shares_revoke_before_delete


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
        title=storable(title),
        system_prompt=storable(system_prompt),
        model=storable(model),
        tools=storable(tools or []),
        context=storable(context or {}),
    )
    if settings.CHAT_WELCOME_MESSAGE:
        welcome = Message(
            conversation=conversation,
            parent=None,
            role=Message.Role.ASSISTANT,
            completed_at=timezone.now(),
        )
        create_messages(
            (welcome, [{"type": "output_text", "text": settings.CHAT_WELCOME_MESSAGE}], [])
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
            setattr(conversation, name, storable(value))
            fields.append(name)
    with transaction.atomic():
        if context is not None:
            # The merge reads the stored context under the lock, not a stale copy.
            locked = lock_conversation(conversation.id)
            merged = {**locked.context, **storable(context)}
            conversation.context = {
                key: value for key, value in merged.items() if value is not None
            }
            fields.append("context")
        if fields:
            conversation.save(update_fields=[*fields, "updated_at"])
            announce_conversation(conversation)
    return conversation


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation with all its messages and feedback; its shares are revoked
    and kept as the record of what was shared."""
    shares_revoke_before_delete(
        shares=Share.objects.filter(conversation=conversation),
        reason="The shared conversation was deleted.",
    )
    messages = Message.objects.filter(conversation=conversation)
    stop_running(messages)
    # Its open tabs and streams hear that every message is gone.
    events.send_event_on_commit(
        conversation.id, events.message_deleted(messages.values_list("id", flat=True))
    )
    # Cut the leaf pointer first so the cascade never trips over it.
    Conversation.objects.filter(id=conversation.id).update(current_leaf=None)
    conversation.delete()


@transaction.atomic
def conversation_switch_branch(*, conversation: Conversation, message: Message) -> Conversation:
    """Show the branch through `message`: the newest leaf under it becomes current."""
    if message.conversation_id != conversation.id:
        raise InvalidParent("That message is not in this conversation.")
    locked = lock_message(message)
    locked.current_leaf_id = selectors.message_newest_leaf_id(message=message)
    locked.save(update_fields=["current_leaf", "updated_at"])
    announce_conversation(locked)
    return locked


@transaction.atomic
def conversation_start(
    *,
    owner,
    content,
    references: list | None = None,
    attachments: list | tuple = (),
    **conversation_fields,
) -> tuple[Conversation, Message, bool]:
    """A new conversation with its first message and that message's reply, or nothing: a
    first message that is refused (too long, empty, flagged) leaves no empty conversation
    behind. Returns `(conversation, reply, created)`; the caller starts the reply. A
    `model` is checked as `message_continue` checks it."""
    model = conversation_fields.pop("model", "")
    conversation = conversation_create(owner=owner, **conversation_fields)
    reply, created = message_continue(
        owner=owner,
        conversation_id=conversation.id,
        content=content,
        references=references,
        attachments=attachments,
        model=model,
    )
    conversation.refresh_from_db()  # its title and current leaf, as message_continue left them
    return conversation, reply, created

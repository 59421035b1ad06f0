"""The lock every write to a conversation's tree takes first."""

import uuid

from django.http import Http404

from ..models import Conversation, Message


def lock_conversation(conversation_id, *, owner=None, turn: bool = False) -> Conversation:
    """The conversation row, locked until the transaction ends (serializes tree writes);
    a 404 when it was deleted since the caller read it, or, given an `owner`, is not
    theirs (an id as a client sent it, which the caller has not read). `turn`: read with
    its owner's own quota, which a turn checks (`_reply_create`)."""
    conversations = Conversation.objects.select_for_update(of=("self",))
    if owner is not None:
        conversations = conversations.filter(owner=owner)
    if turn:
        conversations = conversations.select_related("owner__token_quota")
    try:
        return conversations.get(id=uuid.UUID(str(conversation_id)))
    except (ValueError, Conversation.DoesNotExist):
        raise Http404("No such conversation.") from None


def lock_message(message: Message) -> Conversation:
    """The conversation of `message`, locked (`lock_conversation`); a 404 when the message
    was deleted since the caller read it (a delete takes the same lock)."""
    locked = lock_conversation(message.conversation_id)
    if not Message.objects.filter(id=message.id).exists():
        raise Http404("No such message.")
    return locked

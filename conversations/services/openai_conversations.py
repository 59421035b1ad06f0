"""The Conversations API (`/v1/conversations`): a conversation with OpenAI's `metadata`
(kept in its `context`), and items appended to the branch it shows or taken out of it."""

from django.db import transaction
from django.http import Http404

from .. import events, responses_wire, selectors
from ..errors import GenerationBusy, InvalidContent
from ..models import ContentItem, Conversation, Message, Share
from ..serialization import message_to_dict
from .chat_completions import turns_store
from .conversations import conversation_create, conversation_update
from .locking import lock_conversation
from .messages import UNFINISHED, announce_conversation, prefetched
from .responses import input_turns
from .sharing import shares_revoke_before_delete

METADATA = "metadata"  # the key of the conversation's `context` that holds it
# OpenAI's limits: at most 16 pairs, keys up to 64 characters, values up to 512.
METADATA_PAIRS, METADATA_KEY_CHARS, METADATA_VALUE_CHARS = 16, 64, 512
ITEMS_PER_REQUEST = 20


def _checked_metadata(metadata) -> dict:
    if not isinstance(metadata, dict):
        raise InvalidContent("metadata must be an object of strings.", param="metadata")
    if len(metadata) > METADATA_PAIRS:
        raise InvalidContent(f"metadata holds at most {METADATA_PAIRS} pairs.", param="metadata")
    for key, value in metadata.items():
        if len(key) > METADATA_KEY_CHARS:
            raise InvalidContent(
                f"metadata keys have at most {METADATA_KEY_CHARS} characters.", param="metadata"
            )
        if not isinstance(value, str) or len(value) > METADATA_VALUE_CHARS:
            raise InvalidContent(
                f"metadata values are strings of at most {METADATA_VALUE_CHARS} characters.",
                param=f"metadata.{key}",
            )
    return metadata


def _append(*, owner, conversation: Conversation, items: list) -> None:
    if len(items) > ITEMS_PER_REQUEST:
        raise InvalidContent(f"At most {ITEMS_PER_REQUEST} items at once.", param="items")
    turns_store(
        owner=owner,
        turns=input_turns(items, owner, field="items"),
        model="",
        tools=None,
        conversation=conversation,
        store=True,
        parent_for=lambda locked, turns: (locked.current_leaf, 0),
        where="items",
        answer=False,
    )


@transaction.atomic
def openai_conversation_create(*, owner, items: list | None = None, metadata=None) -> Conversation:
    """A new conversation with OpenAI's `metadata`, holding `items` (up to 20; system and
    developer messages are its system prompt) one under the other, none answered."""
    context = {METADATA: _checked_metadata(metadata)} if metadata else {}
    conversation = conversation_create(owner=owner, context=context)
    if items:
        _append(owner=owner, conversation=conversation, items=items)
    conversation.refresh_from_db()
    return conversation


@transaction.atomic
def openai_conversation_items_add(
    *, owner, conversation: Conversation, items: list
) -> Conversation:
    """Append `items` (up to 20) to the conversation's shown branch, none answered; the
    conversation as it is then."""
    _append(owner=owner, conversation=conversation, items=items)
    conversation.refresh_from_db()
    return conversation


def openai_conversation_update(*, conversation: Conversation, metadata) -> Conversation:
    """Replace the conversation's OpenAI `metadata`."""
    return conversation_update(
        conversation=conversation, context={METADATA: _checked_metadata(metadata)}
    )


def _content_remove(message: Message, positions: list[int]) -> list[ContentItem]:
    """Delete the message's content items at `positions` (in its content, by index); the
    rest keep their order and are numbered from 0 again, as every reader expects. Returns
    the rest."""
    rows = list(message.content_rows)
    doomed = {rows[position].id for position in positions}
    message.content.filter(id__in=doomed).delete()
    # Lowest first: each row moves down to an index already freed, so the unique
    # (message, index) constraint holds after every update.
    kept = [row for row in rows if row.id not in doomed]
    for index, row in enumerate(kept):
        if row.index != index:
            row.index = index
            row.save(update_fields=["index"])
    return kept


def _message_remove(locked: Conversation, message: Message) -> None:
    """Delete one message out of the tree: its children hang under its parent, so the
    branch keeps what came after it; a share of it is revoked."""
    Message.objects.filter(parent=message).update(parent=message.parent_id)
    if locked.current_leaf_id == message.id:
        locked.current_leaf_id = message.parent_id
    shares_revoke_before_delete(
        shares=Share.objects.filter(message=message), reason="The shared message was deleted."
    )
    deleted_id = message.id  # the delete clears the instance's
    message.delete()
    events.send_event_on_commit(locked.id, events.message_deleted([deleted_id]))


@transaction.atomic
def openai_conversation_item_delete(*, conversation: Conversation, item_id: str) -> Conversation:
    """Take the item `item_id` out of the conversation's shown branch; the other items stay,
    in order. An item that is the whole of its message (a user's or a tool's message, the
    only item of a reply) deletes that message alone, its children re-hung under its
    parent; an item of a reply with others deletes the content items it is made of.
    Http404 when the branch shows no such item; GenerationBusy while the reply it belongs
    to, or one answering the message, is queued or being written. The conversation as it
    is then."""
    locked = lock_conversation(conversation.id)
    branch = selectors.conversation_branch(conversation=locked)
    sources = responses_wire.conversation_item_sources([message_to_dict(m) for m in branch])
    found = [(message, positions) for item, message, positions in sources if item["id"] == item_id]
    if not found:
        raise Http404(f"No item '{item_id}' in this conversation.")
    shown, positions = found[0]
    message = next(m for m in branch if str(m.id) == shown["id"])
    siblings = sum(1 for _, other, _ in sources if other is shown)
    whole = siblings == 1
    busy = [message] if not whole else [message, *message.children.all()]
    if any(m.status in UNFINISHED for m in busy):
        raise GenerationBusy("A reply is being written from this item: wait for it, or cancel it.")
    if whole:
        _message_remove(locked, message)
    else:
        prefetched(message, content=_content_remove(message, positions))
        # Open tabs show the reply without the item at once, not at their next reload.
        events.send_event_on_commit(
            locked.id, events.message_updated(message_to_dict(message, rendered=True))
        )
    locked.save(update_fields=["current_leaf", "updated_at"])
    announce_conversation(locked)
    return locked

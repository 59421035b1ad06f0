"""The Conversations API (`/v1/conversations`): a conversation with OpenAI's `metadata`
(kept in its `context`), and items appended to the branch it shows."""

from django.db import transaction

from ..errors import InvalidContent
from ..models import Conversation
from .chat_completions import turns_store
from .conversations import conversation_create, conversation_update
from .responses import input_turns

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

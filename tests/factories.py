"""Small builders for test data (the services are the writers in the app itself)."""

from datetime import timedelta

from django.utils import timezone

from conversations.models import ContentItem, Conversation, Message

_clock = {"now": timezone.now()}


def _tick():
    # Strictly increasing creation times keep "oldest first" orderings deterministic.
    _clock["now"] += timedelta(milliseconds=1)
    return _clock["now"]


def make_conversation(owner, **fields) -> Conversation:
    return Conversation.objects.create(owner=owner, **fields)


def make_message(conversation, parent=None, role="user", text="hi", **fields) -> Message:
    message = Message.objects.create(
        conversation=conversation, parent=parent, role=role, created_at=_tick(), **fields
    )
    item_type = "input_text" if role == "user" else "output_text"
    ContentItem.objects.create(message=message, index=0, type=item_type, text=text)
    return message

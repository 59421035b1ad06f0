"""Small builders for test data (the services are the writers in the app itself)."""

from datetime import timedelta

from django.utils import timezone

from conversations.models import ContentItem, Conversation, Message
from conversations.serialization import content_item_from_dict

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


def make_branch(conversation, length: int, parent=None) -> list[Message]:
    """`length` messages in one chain under `parent`, questions and answers in turn, stored
    in bulk (answers with their HTML, as replies are); the conversation shows its end."""
    messages = []
    for n in range(length):
        role = "user" if n % 2 == 0 else "assistant"
        parent = Message(conversation=conversation, parent=parent, role=role, created_at=_tick())
        messages.append(parent)
    Message.objects.bulk_create(messages)
    ContentItem.objects.bulk_create(
        content_item_from_dict(
            {"type": "input_text", "text": f"Question {n}"}
            if message.role == "user"
            else {"type": "output_text", "text": f"Answer **{n}**"},
            message=message,
            index=0,
            render=True,
        )
        for n, message in enumerate(messages)
    )
    conversation.current_leaf = messages[-1]
    conversation.save(update_fields=["current_leaf", "updated_at"])
    return messages

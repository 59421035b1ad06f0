from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from conversations.models import Feedback, Message
from tests.factories import make_conversation, make_message


@pytest.fixture
def reply(alice):
    conversation = make_conversation(alice, title="Models")
    question = make_message(conversation, text="question")
    return make_message(conversation, question, role="assistant", text="answer", model="m-1")


def test_one_feedback_per_user_per_message(reply, alice, bob):
    Feedback.objects.create(message=reply, user=alice, rating="good")
    Feedback.objects.create(message=reply, user=bob, rating="bad")
    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(message=reply, user=alice, rating="bad")
    assert Feedback.objects.filter(message=reply).count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "wizard"), ("status", "almost_done")],
)
def test_database_refuses_unknown_role_or_status(reply, field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.filter(id=reply.id).update(**{field: value})
    reply.refresh_from_db()
    assert reply.role == "assistant"
    assert reply.status == "completed"


def test_database_refuses_unknown_rating(reply, alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(message=reply, user=alice, rating="meh")


def test_choices_are_the_design_vocabulary():
    assert Message.Role.values == ["system", "user", "assistant", "tool"]
    assert Message.Status.values == [
        "queued",
        "in_progress",
        "incomplete",
        "completed",
        "failed",
        "cancelled",
    ]


def test_deleting_a_message_deletes_its_subtree(alice):
    conversation = make_conversation(alice)
    root = make_message(conversation)
    child = make_message(conversation, root, role="assistant")
    make_message(conversation, child)
    other_root = make_message(conversation, text="another root")
    child.delete()
    assert list(conversation.messages.values_list("id", flat=True)) == [root.id, other_root.id]


def test_every_model_reads_well_as_text(reply, alice):
    feedback = Feedback.objects.create(message=reply, user=alice, rating="good")
    assert str(reply.conversation) == "Models"
    assert "assistant" in str(reply)
    assert str(reply.content.get()).startswith("output_text #0")
    assert "good" in str(feedback)


def test_timestamps_read_back_are_the_instants_written_in_utc(reply):
    """Whichever loader reads them (PostgreSQL: psycopg's, see chatproject.postgresql)."""
    written = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=ZoneInfo("Asia/Kolkata"))
    Message.objects.filter(id=reply.id).update(completed_at=written)
    read = Message.objects.values_list("completed_at", flat=True).get(id=reply.id)
    assert read == written
    assert read.utcoffset() == timedelta(0)
    assert read.isoformat() == "2026-01-01T21:34:05.678901+00:00"

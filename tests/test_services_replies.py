"""What a running reply writes: each checkpoint sends what arrived since the last one."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations import services
from conversations.models import ContentItem
from tests.factories import make_conversation

LONG = "word " * 2_000


@pytest.fixture
def reply(alice):
    reply, _ = services.message_continue(
        owner=alice, conversation_id=make_conversation(alice).id, content="Go"
    )
    return reply


def text(value):
    return [{"type": "output_text", "text": value, "annotations": []}]


def stored_texts(reply):
    return list(ContentItem.objects.filter(message=reply).values_list("type", "text"))


def test_a_checkpoint_sends_only_what_arrived_since_the_last(reply):
    assert services.reply_checkpoint(reply_id=reply.id, content=text(LONG), stored=[])
    with CaptureQueriesContext(connection) as queries:
        assert services.reply_checkpoint(
            reply_id=reply.id, content=text(LONG + "tail"), stored=text(LONG)
        )
    # The 10,000 characters already stored are not sent again.
    assert max(len(query["sql"]) for query in queries) < 1_000
    assert stored_texts(reply) == [("output_text", LONG + "tail")]


def test_a_changed_or_new_item_is_written_and_the_end_is_whole(reply):
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Hm"}]}
    first = [reasoning, *text("Start")]
    services.reply_checkpoint(reply_id=reply.id, content=first, stored=[])
    second = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Hmm, yes"}]},
        {"type": "output_text", "text": "Start", "annotations": [{"type": "url_citation"}]},
        {"type": "function_call", "call_id": "c1", "name": "calculate", "arguments": "{}"},
    ]
    services.reply_checkpoint(reply_id=reply.id, content=second, stored=first)
    services.reply_finish(
        reply_id=reply.id, content=[*second, *text(" done")], stored=second, status="completed"
    )
    assert stored_texts(reply) == [
        ("reasoning", "Hmm, yes"),
        ("output_text", "Start"),
        ("function_call", "{}"),
        ("output_text", " done"),
    ]
    stored = services.reply_finish(reply_id=reply.id, content=second, status="completed")
    assert [item["type"] for item in stored.content.values()] == [
        "reasoning",
        "output_text",
        "function_call",
    ]

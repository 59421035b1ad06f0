"""Tree writes at the same time never lose a message (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, connections

from conversations import selectors, services
from conversations.models import Conversation, Message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def at_once(*calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_simultaneous_continues_make_one_chain(alice, settings):
    settings.CHAT_QUEUE_LIMIT = 10
    conversation = services.conversation_create(owner=alice)
    errors = at_once(
        *[
            (lambda n=n: services.message_continue(conversation=conversation, content=f"m{n}"))
            for n in range(6)
        ]
    )
    assert errors == []
    conversation.refresh_from_db()
    branch = selectors.conversation_branch(conversation=conversation)
    # Every question and reply is on the shown branch: none hangs off a stale leaf.
    assert len(branch) == 12 == Message.objects.filter(conversation=conversation).count()
    statuses = [m.status for m in branch if m.role == "assistant"]
    assert statuses.count("in_progress") == 1
    assert statuses.count("queued") == 5


def test_delete_racing_an_append_never_leaves_a_dangling_leaf(alice):
    for _ in range(5):
        conversation = services.conversation_create(owner=alice)
        reply, _ = services.message_continue(conversation=conversation, content="first")
        services.reply_finish(reply_id=reply.id, content=[], status="completed")
        question = reply.parent
        errors = at_once(
            lambda question=question: services.message_delete(message=question),
            lambda conversation=conversation: services.message_continue(
                conversation=conversation, content="second"
            ),
        )
        assert errors == []
        conversation = Conversation.objects.get(id=conversation.id)
        if conversation.current_leaf_id is not None:
            assert Message.objects.filter(id=conversation.current_leaf_id).exists()
        # Whatever survived is a proper tree whose leaf is on it.
        branch = selectors.conversation_branch(conversation=conversation)
        assert all(m.conversation_id == conversation.id for m in branch)

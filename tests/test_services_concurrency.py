"""Tree writes at the same time never lose a message (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, connections
from django.http import Http404

from conversations import selectors, services
from conversations.models import Conversation, Feedback, Message, Share

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


def finished_reply(owner, question: str):
    """A new conversation holding `question` and its reply, finished."""
    conversation = services.conversation_create(owner=owner)
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content=question
    )
    services.reply_finish(reply_id=reply.id, content=[], status="completed")
    return conversation, reply


def test_simultaneous_continues_make_one_chain(alice, settings):
    settings.CHAT_QUEUE_LIMIT = 10
    conversation = services.conversation_create(owner=alice)
    errors = at_once(
        *[
            (
                lambda n=n: services.message_continue(
                    owner=conversation.owner, conversation_id=conversation.id, content=f"m{n}"
                )
            )
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
        reply, _ = services.message_continue(
            owner=conversation.owner, conversation_id=conversation.id, content="first"
        )
        services.reply_finish(reply_id=reply.id, content=[], status="completed")
        question = reply.parent
        errors = at_once(
            lambda question=question: services.message_delete(message=question),
            lambda conversation=conversation: services.message_continue(
                owner=conversation.owner, conversation_id=conversation.id, content="second"
            ),
        )
        assert errors == []
        conversation = Conversation.objects.get(id=conversation.id)
        if conversation.current_leaf_id is not None:
            assert Message.objects.filter(id=conversation.current_leaf_id).exists()
        # Whatever survived is a proper tree whose leaf is on it.
        branch = selectors.conversation_branch(conversation=conversation)
        assert all(m.conversation_id == conversation.id for m in branch)


def test_a_turn_in_a_conversation_deleted_meanwhile_is_not_found(alice):
    """The request read the conversation, then it was deleted before the turn locked it:
    a 404, as for any conversation that is not there (it was a 500)."""
    conversation = services.conversation_create(owner=alice)
    services.conversation_delete(conversation=Conversation.objects.get(id=conversation.id))

    with pytest.raises(Http404):
        services.message_continue(
            owner=conversation.owner, conversation_id=conversation.id, content="Anyone there?"
        )
    assert not Message.objects.exists()


def test_rating_a_reply_deleted_meanwhile_is_not_found(alice):
    _conversation, reply = finished_reply(alice, "Rate me")
    services.message_delete(message=Message.objects.get(id=reply.id))

    with pytest.raises(Http404):
        services.feedback_set(message=reply, user=alice, rating="good")
    assert not Feedback.objects.exists()


def test_switching_to_a_branch_deleted_meanwhile_is_not_found(alice):
    conversation, reply = finished_reply(alice, "Branch here")
    services.message_delete(message=Message.objects.get(id=reply.id))

    with pytest.raises(Http404):
        services.conversation_switch_branch(conversation=conversation, message=reply)
    assert Conversation.objects.get(id=conversation.id).current_leaf_id == reply.parent_id


def test_sharing_a_message_deleted_meanwhile_is_not_found(alice):
    conversation, reply = finished_reply(alice, "Share me")
    services.message_delete(message=Message.objects.get(id=reply.id))

    with pytest.raises(Http404):
        services.share_create(conversation=conversation, user=alice, message=reply)
    assert not Share.objects.exists()


def test_a_branch_read_while_a_message_is_deleted_shows_what_is_left(alice):
    """The branch is read in two queries (the tree's ids, then the messages): a message
    deleted between them is left out of the answer (it was a 500)."""
    conversation, reply = finished_reply(alice, "Keep me")
    deleted = []

    def delete_after_the_tree_is_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not deleted and '"parent_id"' in sql and "FROM" in sql:
            deleted.append(reply.id)
            with connection.execute_wrapper(lambda *args: args[0](*args[1:])):
                Message.objects.filter(id=reply.id).delete()
        return result

    with connection.execute_wrapper(delete_after_the_tree_is_read):
        branch = selectors.message_path(conversation_id=conversation.id, leaf_id=reply.id)

    assert deleted == [reply.id]
    assert [message.id for message in branch] == [reply.parent_id]

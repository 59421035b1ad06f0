import pytest
from django.http import Http404

from conversations import selectors, services
from conversations.errors import (
    ContentTooLong,
    EmptyContent,
    GenerationBusy,
    InvalidContent,
    InvalidParent,
    NotEditable,
    NotResettable,
    NotRunning,
    TooManyReferences,
)
from conversations.models import Message
from conversations.serialization import message_to_dict


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice, system_prompt="Be brief.")


def finish(reply, text="answer"):
    return services.reply_finish(
        reply_id=reply.id,
        content=[{"type": "output_text", "text": text, "annotations": []}],
        status="completed",
        usage={"input_tokens": 3, "output_tokens": 1, "reasoning_tokens": 0},
    )


def branch_texts(conversation):
    conversation.refresh_from_db()
    return [
        (m.role, m.content.all()[0].text if m.content.all() else "")
        for m in selectors.conversation_branch(conversation=conversation)
    ]


def test_continue_stores_the_question_and_a_running_reply_under_the_current_leaf(conversation):
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="Hello there"
    )
    assert reply.role == "assistant"
    assert reply.status == "in_progress"
    assert reply.parent.role == "user"
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == reply.id
    assert conversation.title == "Hello there"
    finish(reply)
    second, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="More"
    )
    assert second.parent.parent_id == reply.id
    assert branch_texts(conversation) == [
        ("user", "Hello there"),
        ("assistant", "answer"),
        ("user", "More"),
        ("assistant", ""),
    ]


def test_continue_into_another_users_or_no_conversation_is_404_and_stores_nothing(
    conversation, bob
):
    # The REST API calls it with the id from the URL, having read nothing.
    for owner, conversation_id in [(bob, conversation.id), (conversation.owner, "not-an-id")]:
        with pytest.raises(Http404):
            services.message_continue(
                owner=owner, conversation_id=conversation_id, content="Mine now"
            )
    assert not Message.objects.filter(conversation=conversation).exists()
    conversation.refresh_from_db()
    assert (conversation.title, conversation.current_leaf_id) == ("", None)


def test_a_second_reply_waits_queued_and_beyond_the_bound_is_refused(conversation, settings):
    settings.CHAT_QUEUE_LIMIT = 2
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="one"
    )
    second, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="two"
    )
    third, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="three"
    )
    assert [first.status, second.status, third.status] == ["in_progress", "queued", "queued"]
    with pytest.raises(GenerationBusy) as error:
        services.message_continue(
            owner=conversation.owner, conversation_id=conversation.id, content="four"
        )
    assert error.value.code == "generation_busy"
    # The refused question was not stored.
    assert not Message.objects.filter(content__text="four").exists()
    finish(first)
    claimed = services.reply_claim_next(conversation_id=conversation.id)
    assert claimed.id == second.id
    assert claimed.status == "in_progress"
    assert services.reply_claim_next(conversation_id=conversation.id) is None


def test_edit_makes_a_sibling_branch_and_keeps_the_old_one(conversation):
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="question"
    )
    finish(first, "first answer")
    question = first.parent
    edited_reply, _ = services.message_edit(message=question, content="better question")
    assert edited_reply.parent.parent_id == question.parent_id
    assert branch_texts(conversation) == [("user", "better question"), ("assistant", "")]
    siblings = selectors.message_dicts_for_user(user=conversation.owner, messages=[question])
    assert siblings[0]["sibling_ids"] == [str(question.id), str(edited_reply.parent_id)]
    conversation = services.conversation_switch_branch(conversation=conversation, message=question)
    assert conversation.current_leaf_id == first.id


def test_reset_makes_a_sibling_reply(conversation):
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="question"
    )
    finish(first)
    again, _ = services.message_reset(message=first)
    assert again.parent_id == first.parent_id
    assert again.status == "in_progress"
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == again.id


def test_reset_answers_again_a_question_whose_reply_was_deleted(conversation):
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="question"
    )
    finish(first)
    services.message_delete(message=first)
    again, created = services.message_reset(message=first.parent)
    assert created
    assert (again.parent_id, again.role, again.status) == (
        first.parent_id,
        "assistant",
        "in_progress",
    )
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == again.id


def test_edit_and_reset_refuse_the_wrong_role(conversation):
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="question"
    )
    finish(reply)
    with pytest.raises(NotEditable):
        services.message_edit(message=reply, content="x")
    with pytest.raises(NotResettable):
        services.message_reset(message=reply.parent)


def test_cancel_keeps_the_reply_and_refuses_a_finished_one(conversation):
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="question"
    )
    cancelled = services.message_cancel(message=reply)
    assert cancelled.status == "cancelled"
    # The runner stores what arrived but the status stays cancelled.
    stored = finish(reply, "partial")
    assert stored.status == "cancelled"
    assert stored.content.all()[0].text == "partial"
    with pytest.raises(NotRunning):
        services.message_cancel(message=reply)


def test_delete_repairs_the_current_leaf(conversation):
    first, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="one"
    )
    finish(first)
    second, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="two"
    )
    finish(second)
    services.message_delete(message=second.parent)
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == first.id
    assert not Message.objects.filter(id=second.id).exists()


def test_idempotency_key_returns_the_same_reply(conversation):
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="q", idempotency_key="k1"
    )
    again, created = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="q", idempotency_key="k1"
    )
    assert (again.id, created) == (reply.id, False)
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_parent_must_belong_to_the_conversation_and_not_be_a_user_message(conversation, alice):
    other = services.conversation_create(owner=alice)
    foreign, _ = services.message_continue(
        owner=other.owner, conversation_id=other.id, content="elsewhere"
    )
    with pytest.raises(InvalidParent):
        services.message_continue(
            owner=conversation.owner,
            conversation_id=conversation.id,
            content="x",
            parent_id=foreign.id,
        )
    with pytest.raises(InvalidParent):
        services.message_continue(
            owner=conversation.owner,
            conversation_id=conversation.id,
            content="x",
            parent_id="nonsense",
        )
    with pytest.raises(InvalidParent):
        services.message_continue(
            owner=other.owner, conversation_id=other.id, content="x", parent_id=foreign.parent_id
        )


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", EmptyContent),
        ("   ", EmptyContent),
        ([], EmptyContent),
        ([{"type": "telepathy", "text": "x"}], InvalidContent),
        ([{"type": "input_text"}], InvalidContent),
        ([{"type": "input_image"}], InvalidContent),
        ([{"text": "no type"}], InvalidContent),
        (42, InvalidContent),
    ],
)
def test_bad_content_is_refused_before_anything_is_stored(conversation, content, error):
    with pytest.raises(error):
        services.message_continue(
            owner=conversation.owner, conversation_id=conversation.id, content=content
        )
    assert not Message.objects.exists()


def test_limits_on_length_and_references(conversation, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    settings.CHAT_MAX_REFERENCES = 1
    with pytest.raises(ContentTooLong):
        services.message_continue(
            owner=conversation.owner, conversation_id=conversation.id, content="x" * 11
        )
    refs = [{"content": "a"}, {"content": "b"}]
    with pytest.raises(TooManyReferences):
        services.message_continue(
            owner=conversation.owner, conversation_id=conversation.id, content="x", references=refs
        )


def test_content_items_and_references_round_trip(conversation):
    items = [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
    ]
    refs = [{"type": "url", "name": "Doc", "url": "https://example.com", "content": "quoted"}]
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content=items, references=refs
    )
    question = selectors.messages_with_content().get(id=reply.parent_id)
    data = message_to_dict(question)
    assert data["content"] == items
    assert data["references"] == refs


def test_model_output_of_unknown_types_is_stored_untouched(conversation):
    reply, _ = services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="q"
    )
    content = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "plan", "steps": ["a", "b"], "text": "plan"},
        {"type": "output_text", "text": "done", "annotations": [{"type": "url_citation"}]},
    ]
    services.reply_finish(reply_id=reply.id, content=content, status="completed")
    stored = selectors.messages_with_content().get(id=reply.id)
    assert message_to_dict(stored)["content"] == content


def test_welcome_message_and_hints_come_from_settings(alice, settings):
    settings.CHAT_WELCOME_MESSAGE = "Hi! Ask me anything."
    conversation = services.conversation_create(owner=alice)
    assert branch_texts(conversation) == [("assistant", "Hi! Ask me anything.")]


def test_context_is_merged_shallowly(conversation):
    services.conversation_update(conversation=conversation, context={"a": 1, "b": {"x": 1}})
    services.conversation_update(conversation=conversation, context={"b": {"y": 2}, "c": 3})
    services.conversation_update(conversation=conversation, context={"a": None})
    conversation.refresh_from_db()
    assert conversation.context == {"b": {"y": 2}, "c": 3}

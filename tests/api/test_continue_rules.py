"""Continue's rules that hold before any model runs: bad input, the queue, idempotency,
throttling."""

import pytest

from conversations.models import Message
from tests.factories import make_conversation, make_message


@pytest.fixture
def conversation(alice):
    return make_conversation(alice, title="Rules")


@pytest.fixture
def busy(conversation):
    """A conversation whose reply is being written right now (by another request)."""
    question = make_message(conversation, role="user", text="first")
    running = make_message(conversation, question, role="assistant", text="", status="in_progress")
    conversation.current_leaf = running
    conversation.save()
    return conversation


def url(conversation):
    return f"/api/conversations/{conversation.id}/continue/"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"content": ""}, "empty_content"),
        ({"content": "   \n"}, "empty_content"),
        ({"content": []}, "empty_content"),
        ({}, "invalid"),
        ({"content": 7}, "invalid_content"),
        ({"content": [{"type": "hologram", "text": "x"}]}, "invalid_content"),
        ({"content": [{"type": "input_text"}]}, "invalid_content"),
        ({"content": [{"type": "input_text", "text": 5}]}, "invalid_content"),
        ({"content": [{"type": "input_text", "text": "x", "file_id": 5}]}, "invalid_content"),
        ({"content": [{"type": "input_image"}]}, "invalid_content"),
        (
            {"content": [{"type": "input_image", "image_url": "file:///etc/passwd"}]},
            "invalid_content",
        ),
        ({"content": "x" * 101}, "content_too_long"),
        ({"content": "x", "references": [{"content": "r"}] * 3}, "too_many_references"),
        ({"content": "x", "references": [{"name": "no content"}]}, "invalid_content"),
        ({"content": "x", "references": ["text"]}, "invalid_content"),
        ({"content": "x", "references": [{"content": "r", "type": "t" * 33}]}, "invalid_content"),
        (
            {"content": "x", "attachments": ["00000000-0000-0000-0000-000000000001"] * 3},
            "too_many_attachments",
        ),
        (
            {"content": "x", "attachments": ["00000000-0000-0000-0000-000000000001"]},
            "invalid_attachment",
        ),
        ({"content": "x", "attachments": ["nope"]}, "invalid"),
        ({"content": "x", "parent_id": "nope"}, "invalid"),
        ({"content": "", "stream": True}, "empty_content"),
    ],
)
def test_bad_input_is_400_with_a_code_and_stores_nothing(api, conversation, settings, body, code):
    settings.CHAT_MAX_MESSAGE_CHARS = 100
    settings.CHAT_MAX_REFERENCES = 2
    settings.CHAT_MAX_ATTACHMENTS = 2
    response = api.post(url(conversation), body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert not Message.objects.exists()


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "body",
    [
        "{oops",
        f'{{"content": {DEEP}}}',
        f'{{"content": "x", "references": [{"[" * 200 + "]" * 200}]}}',
        '{"content": [{"type": "input_text", "text": "x", "n": NaN}]}',
        '{"content": [{"type": "input_text", "text": "x", "n": 1e400}]}',
        f'{{"content": [{{"type": "input_text", "text": "x", "n": {10**30}}}]}}',
    ],
    ids=["broken", "deep", "deep inside", "nan", "infinite", "huge int"],
)
def test_malformed_json_is_400_and_stores_nothing(api, conversation, body):
    response = api.post(url(conversation), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert not Message.objects.exists()


def test_a_parent_from_another_conversation_is_400(api, conversation, alice):
    elsewhere = make_message(make_conversation(alice), role="assistant", text="x")
    response = api.post(
        url(conversation), {"content": "x", "parent_id": str(elsewhere.id)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parent"


def test_while_a_reply_runs_the_next_one_is_queued_then_refused(api, busy, settings):
    settings.CHAT_QUEUE_LIMIT = 1
    response = api.post(url(busy), {"content": "second"}, format="json")
    assert response.status_code == 200, response.json()
    branch = response.json()["messages"]
    assert [(m["role"], m["status"]) for m in branch] == [
        ("user", "completed"),
        ("assistant", "in_progress"),
        ("user", "completed"),
        ("assistant", "queued"),
    ]
    response = api.post(url(busy), {"content": "third"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "generation_busy"
    assert "wait" in response.json()["detail"]


def test_a_retry_with_the_same_idempotency_key_returns_the_same_reply(api, busy):
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-1"}
    first = api.post(url(busy), {"content": "again?"}, format="json", **headers).json()
    second = api.post(url(busy), {"content": "again?"}, format="json", **headers).json()
    assert first["messages"][-1]["id"] == second["messages"][-1]["id"]
    assert busy.messages.filter(role="user").count() == 2
    response = api.post(url(busy), {"content": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert response.json()["code"] == "invalid_idempotency_key"


def test_continue_is_throttled_per_user(api, bob_api, alice, bob, settings):
    settings.CHAT_GENERATION_RATE = "2/min"
    mine = make_conversation(alice)
    for _ in range(2):
        assert api.post(url(mine), {"content": ""}, format="json").status_code == 400
    response = api.post(url(mine), {"content": ""}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    # Another user has their own allowance.
    bobs = make_conversation(bob)
    assert bob_api.post(url(bobs), {"content": ""}, format="json").status_code == 400

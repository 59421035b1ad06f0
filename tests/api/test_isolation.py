"""Another user's conversation, message or share is a 404 on every route, and so are
unknown and malformed ids; anonymous requests are refused."""

import uuid

import pytest

from conversations import services
from tests.factories import make_conversation, make_message


@pytest.fixture
def owned(alice):
    conversation = make_conversation(alice, title="Alice's")
    question = make_message(conversation, role="user", text="secret question")
    answer = make_message(conversation, question, role="assistant", text="secret answer")
    conversation.current_leaf = answer
    conversation.save()
    share = services.share_create(conversation=conversation, user=alice)
    return {"conversation": conversation, "question": question, "answer": answer, "share": share}


def routes(owned, conversation_id=None, message_id=None, token=None):
    c = conversation_id or owned["conversation"].id
    m = message_id or owned["answer"].id
    u = message_id or owned["question"].id
    t = token or owned["share"].token
    return [
        ("get", f"/api/conversations/{c}/", None),
        ("patch", f"/api/conversations/{c}/", {"title": "mine now"}),
        ("delete", f"/api/conversations/{c}/", None),
        ("get", f"/api/conversations/{c}/messages/", None),
        ("post", f"/api/conversations/{c}/continue/", {"content": "hi"}),
        ("post", f"/api/conversations/{c}/continue/", {"content": "hi", "stream": True}),
        ("post", f"/api/conversations/{c}/branch/", {"message_id": str(m)}),
        ("get", f"/api/conversations/{c}/branch/?before={m}", None),
        ("get", f"/api/conversations/{c}/export/", None),
        ("get", f"/api/conversations/{c}/shares/", None),
        ("post", f"/api/conversations/{c}/shares/", {}),
        ("get", f"/api/messages/{m}/", None),
        ("get", f"/api/messages/{m}/stream/", None),
        ("delete", f"/api/messages/{m}/", None),
        ("post", f"/api/messages/{u}/edit/", {"content": "changed"}),
        ("post", f"/api/messages/{m}/reset/", None),
        ("post", f"/api/messages/{m}/cancel/", None),
        ("put", f"/api/messages/{m}/feedback/", {"rating": "bad"}),
        ("delete", f"/api/messages/{m}/feedback/", None),
        ("get", f"/api/shares/{t}/", None),
        ("delete", f"/api/shares/{t}/", None),
    ]


def test_another_user_gets_404_everywhere_and_nothing_changes(owned, bob_api):
    for method, url, body in routes(owned):
        response = getattr(bob_api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["code"] == "not_found"
    conversation = owned["conversation"]
    conversation.refresh_from_db()
    assert conversation.title == "Alice's"
    assert conversation.messages.count() == 2
    assert owned["share"].__class__.objects.get(id=owned["share"].id).revoked_at is None


@pytest.mark.parametrize("bad_id", ["not-a-uuid", str(uuid.uuid4()), "1"])
def test_unknown_and_malformed_ids_are_404(owned, api, bad_id):
    for method, url, body in routes(owned, conversation_id=bad_id, message_id=bad_id, token=bad_id):
        if "/branch/" in url:
            continue  # the conversation is real there only when the id is
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.content)


def test_branch_switch_to_a_message_of_another_user_is_404(owned, bob, bob_api):
    bobs = make_conversation(bob)
    response = bob_api.post(
        f"/api/conversations/{bobs.id}/branch/",
        {"message_id": str(owned["answer"].id)},
        format="json",
    )
    assert response.status_code == 404


def test_anonymous_requests_are_refused(owned, anon):
    for method, url, body in [*routes(owned), ("get", "/api/conversations/", None)]:
        response = getattr(anon, method)(url, body, format="json")
        assert response.status_code in (401, 403), (method, url)
        assert response.json()["code"] == "not_authenticated"


def test_unknown_api_routes_answer_a_json_404(api, anon):
    for client in (api, anon):
        response = client.get("/api/teleport/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert api.get("/api/conversations").status_code == 301  # APPEND_SLASH still works

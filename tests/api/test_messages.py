import json

import pytest

from conversations.models import Feedback, Message
from tests.factories import make_conversation, make_message


@pytest.fixture
def tree(alice):
    """q -> a, with an edit q' -> a' beside q; current leaf a."""
    conversation = make_conversation(alice, model="m1")
    q = make_message(conversation, role="user", text="question")
    a = make_message(conversation, q, role="assistant", text="answer", model="m1")
    q_edit = make_message(conversation, role="user", text="question, edited")
    a_edit = make_message(conversation, q_edit, role="assistant", text="edited answer")
    conversation.current_leaf = a
    conversation.save()
    return {"conversation": conversation, "q": q, "a": a, "q_edit": q_edit, "a_edit": a_edit}


def test_get_a_message_with_its_siblings(api, tree):
    body = api.get(f"/api/messages/{tree['q'].id}/").json()
    assert body["role"] == "user"
    assert body["parent_id"] is None
    assert body["content"] == [{"type": "input_text", "text": "question"}]
    assert body["sibling_ids"] == [str(tree["q"].id), str(tree["q_edit"].id)]
    assert body["feedback"] is None
    for key in ("id", "status", "model", "references", "error", "usage", "flags", "created_at"):
        assert key in body


def test_the_tree_lists_every_branch(api, tree):
    body = api.get(f"/api/conversations/{tree['conversation'].id}/messages/").json()
    assert len(body["messages"]) == 4


def test_switch_branch_shows_the_newest_leaf_under_a_message(api, tree):
    url = f"/api/conversations/{tree['conversation'].id}/branch/"
    body = api.post(url, {"message_id": str(tree["q_edit"].id)}, format="json").json()
    assert body["current_leaf_id"] == str(tree["a_edit"].id)
    assert [m["content"][0]["text"] for m in body["messages"]] == [
        "question, edited",
        "edited answer",
    ]


def test_delete_a_message_repairs_the_current_leaf(api, tree):
    assert api.delete(f"/api/messages/{tree['a'].id}/").status_code == 204
    body = api.get(f"/api/conversations/{tree['conversation'].id}/").json()
    assert body["current_leaf_id"] == str(tree["q"].id)


def test_feedback_is_set_replaced_and_cleared(api, tree, alice):
    url = f"/api/messages/{tree['a'].id}/feedback/"
    response = api.put(url, {"rating": "good"}, format="json")
    assert response.status_code == 200, response.json()
    body = api.put(
        url, {"rating": "bad", "comment": "wrong year", "reasons": ["inaccurate"]}, format="json"
    ).json()
    assert body["rating"] == "bad"
    feedback = Feedback.objects.get()
    assert (feedback.user, feedback.model, feedback.reasons) == (alice, "m1", ["inaccurate"])
    message = api.get(f"/api/messages/{tree['a'].id}/").json()
    assert message["feedback"]["comment"] == "wrong year"
    assert api.delete(url).status_code == 204
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"rating": "meh"},
        {},
        {"rating": "good", "reasons": "not a list"},
        # The error message quotes it, and it has no UTF-8 form.
        {"rating": "lone \udc00 surrogate"},
    ],
)
def test_bad_feedback_is_400(api, tree, body):
    url = f"/api/messages/{tree['a'].id}/feedback/"
    response = api.put(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_feedback_text_with_nul_and_lone_surrogates_is_stored(api, tree):
    url = f"/api/messages/{tree['a'].id}/feedback/"
    body = {"rating": "bad", "comment": "nul\x00", "reasons": ["half \ud800"]}
    response = api.put(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.json()
    feedback = api.get(f"/api/messages/{tree['a'].id}/").json()["feedback"]
    assert (feedback["comment"], feedback["reasons"]) == ("nul\ufffd", ["half \ufffd"])


def test_feedback_on_a_user_message_is_400(api, tree):
    response = api.put(f"/api/messages/{tree['q'].id}/feedback/", {"rating": "good"}, format="json")
    assert response.json()["code"] == "invalid_feedback"


def test_cancel_a_queued_reply_and_refuse_a_finished_one(api, tree):
    waiting = make_message(tree["conversation"], tree["q"], role="assistant", status="queued")
    body = api.post(f"/api/messages/{waiting.id}/cancel/").json()
    assert body["status"] == "cancelled"
    response = api.post(f"/api/messages/{tree['a'].id}/cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "not_running"


def test_edit_an_assistant_message_or_reset_a_user_message_is_400(api, tree):
    response = api.post(f"/api/messages/{tree['a'].id}/edit/", {"content": "x"}, format="json")
    assert response.json()["code"] == "not_editable"
    response = api.post(f"/api/messages/{tree['q'].id}/reset/")
    assert response.json()["code"] == "not_resettable"
    assert Message.objects.count() == 4

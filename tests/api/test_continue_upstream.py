"""Continue against the real `openai` SDK talking HTTP to the fake upstream, which records
what the model was sent."""

import json

import pytest

from tests.factories import make_conversation


def text_of(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


@pytest.fixture
def conversation(alice):
    return make_conversation(alice, system_prompt="Be brief.")


def post(api, url, body=None):
    response = api.post(url, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["messages"]


def test_edit_sends_only_the_new_branch_to_the_model(api, conversation, fake_openai):
    for text in ("answer one", "answer two", "edited answer"):
        fake_openai.reply(text=text)
    url = f"/api/conversations/{conversation.id}/continue/"
    post(api, url, {"content": "one"})
    branch = post(api, url, {"content": "two"})
    assert [text_of(m) for m in fake_openai.model_requests()[-1].body["messages"]] == [
        "Be brief.",
        "one",
        "answer one",
        "two",
    ]
    branch = post(api, f"/api/messages/{branch[2]['id']}/edit/", {"content": "two, edited"})
    sent = fake_openai.model_requests()[-1].body["messages"]
    assert [(m["role"], text_of(m)) for m in sent] == [
        ("system", "Be brief."),
        ("user", "one"),
        ("assistant", "answer one"),
        ("user", "two, edited"),
    ]
    assert branch[-1]["content"][0]["text"] == "edited answer"
    assert branch[-1]["model"] == "fake-model"


def test_reset_sends_the_question_again_without_the_old_answer(api, conversation, fake_openai):
    fake_openai.reply(text="first take")
    fake_openai.reply(text="second take")
    branch = post(api, f"/api/conversations/{conversation.id}/continue/", {"content": "q"})
    branch = post(api, f"/api/messages/{branch[1]['id']}/reset/")
    sent = fake_openai.model_requests()[-1].body["messages"]
    assert [(m["role"], text_of(m)) for m in sent] == [("system", "Be brief."), ("user", "q")]
    assert branch[-1]["content"][0]["text"] == "second take"
    assert len(branch[-1]["sibling_ids"]) == 2


def test_an_upstream_error_is_stored_on_the_failed_reply(api, conversation, fake_openai):
    fake_openai.error(401, "Incorrect API key provided", code="invalid_api_key")
    branch = post(api, f"/api/conversations/{conversation.id}/continue/", {"content": "q"})
    assert branch[0]["content"][0]["text"] == "q"
    assert branch[1]["status"] == "failed"
    assert branch[1]["error"]["code"] == "auth_failed"
    assert branch[1]["error"]["status"] == 401
    assert "Incorrect API key" in branch[1]["error"]["message"]


def test_a_cut_stream_keeps_what_arrived(api, conversation, fake_openai):
    fake_openai.reply(text="Half of an answer that goes on", cut_after=3)
    branch = post(api, f"/api/conversations/{conversation.id}/continue/", {"content": "q"})
    reply = branch[1]
    assert reply["status"] == "incomplete"
    assert reply["content"][0]["text"].startswith("Half")
    assert reply["error"]["code"] == "connection_lost"


def test_model_text_with_nul_and_lone_surrogates_is_stored(api, conversation, fake_openai):
    fake_openai.reply(text=["Zero\x00here ", "half \ud800 pair"])
    url = f"/api/conversations/{conversation.id}/continue/"
    reply = post(api, url, {"content": "Say something odd"})[-1]
    assert reply["status"] == "completed"
    assert text_of(reply) == "Zero\ufffdhere half \ufffd pair"
    assert api.get(f"/api/messages/{reply['id']}/").json()["content"] == reply["content"]


def test_user_text_with_nul_and_lone_surrogates_is_stored(api, conversation):
    url = f"/api/conversations/{conversation.id}/continue/"
    # JSON text as a browser would send it (a lone surrogate travels as a \u escape).
    body = json.dumps({"content": "nul\x00 and \udc00 here"})
    response = api.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.json()
    question = response.json()["messages"][0]
    assert question["content"] == [{"type": "input_text", "text": "nul\ufffd and \ufffd here"}]
    detail = api.get(f"/api/conversations/{conversation.id}/").json()
    assert detail["title"] == "nul\ufffd and \ufffd here"

"""Continue, edit and reset run the reply in the request (JSON path) with the demo model,
or with a scripted provider where a test needs a particular ending."""

import pytest

from conversations import llm
from conversations.llm.base import Finish, Provider, ProviderError, TextDelta, Usage
from conversations.models import Message
from tests.factories import make_conversation


class ScriptedProvider(Provider):
    """Plays back events, then raises `error` (when set): a stand-in model."""

    name = "scripted"

    def __init__(self, events, error=None):
        self.events = events
        self.error = error
        self.calls = []

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        self.calls.append({"messages": messages, "system_prompt": system_prompt})
        for event in self.events:
            yield event
        if self.error is not None:
            raise self.error


@pytest.fixture
def scripted(monkeypatch):
    def use(events, error=None):
        provider = ScriptedProvider(events, error)
        monkeypatch.setattr(llm, "get_provider", lambda name=None: provider)
        return provider

    return use


@pytest.fixture
def conversation(alice):
    return make_conversation(alice, system_prompt="Answer briefly.")


def continue_url(conversation):
    return f"/api/conversations/{conversation.id}/continue/"


def text(message, item_type="output_text"):
    return "".join(item.get("text", "") for item in message["content"] if item["type"] == item_type)


def test_continue_answers_with_the_whole_branch_after_the_reply(api, conversation):
    response = api.post(continue_url(conversation), {"content": "Hello model"}, format="json")
    assert response.status_code == 200, response.json()
    question, reply = response.json()["messages"]
    assert question["content"] == [{"type": "input_text", "text": "Hello model"}]
    assert reply["role"] == "assistant"
    assert reply["status"] == "completed"
    assert reply["parent_id"] == question["id"]
    assert text(reply).startswith("You said: *Hello model*")
    assert [item["type"] for item in reply["content"]] == ["reasoning", "output_text"]
    assert reply["usage"]["output_tokens"] > 0
    assert reply["completed_at"] is not None
    detail = api.get(f"/api/conversations/{conversation.id}/").json()
    assert detail["title"] == "Hello model"
    assert detail["current_leaf_id"] == reply["id"]

    second = api.post(continue_url(conversation), {"content": "And again"}, format="json").json()
    assert [m["role"] for m in second["messages"]] == ["user", "assistant"] * 2
    assert second["messages"][2]["parent_id"] == reply["id"]


def test_the_model_gets_the_system_prompt_and_the_branch(api, conversation, scripted):
    model = scripted([TextDelta("ok"), Finish("stop")])
    api.post(
        continue_url(conversation),
        {"content": "first", "references": [{"name": "doc", "content": "quoted text"}]},
        format="json",
    )
    api.post(continue_url(conversation), {"content": "second"}, format="json")
    last = model.calls[-1]
    assert last["system_prompt"] == "Answer briefly."
    assert [(m["role"], m["content"][0]["text"]) for m in last["messages"]] == [
        ("user", "first"),
        ("assistant", "ok"),
        ("user", "second"),
    ]
    assert last["messages"][0]["references"][0]["content"] == "quoted text"


def test_edit_sends_only_the_new_branch_to_the_model(api, conversation, scripted):
    model = scripted([TextDelta("answer"), Finish("stop")])
    first = api.post(continue_url(conversation), {"content": "one"}, format="json").json()
    api.post(continue_url(conversation), {"content": "two"}, format="json")
    question_one = first["messages"][0]
    response = api.post(
        f"/api/messages/{question_one['id']}/edit/", {"content": "one, edited"}, format="json"
    )
    assert response.status_code == 200, response.json()
    branch = response.json()["messages"]
    assert [text(m, "input_text") or text(m) for m in branch] == ["one, edited", "answer"]
    assert branch[0]["sibling_ids"] == [question_one["id"], branch[0]["id"]]
    assert [m["content"][0]["text"] for m in model.calls[-1]["messages"]] == ["one, edited"]
    tree = api.get(f"/api/conversations/{conversation.id}/messages/").json()["messages"]
    assert len(tree) == 6


def test_reset_writes_a_sibling_reply_from_the_same_question(api, conversation, scripted):
    model = scripted([TextDelta("take"), Finish("stop")])
    first = api.post(continue_url(conversation), {"content": "q"}, format="json").json()
    old_reply = first["messages"][1]
    response = api.post(f"/api/messages/{old_reply['id']}/reset/")
    assert response.status_code == 200, response.json()
    _question, new_reply = response.json()["messages"]
    assert new_reply["id"] != old_reply["id"]
    assert new_reply["sibling_ids"] == [old_reply["id"], new_reply["id"]]
    assert [m["role"] for m in model.calls[-1]["messages"]] == ["user"]


def test_reset_of_a_question_left_without_its_reply_answers_it(api, conversation, scripted):
    model = scripted([TextDelta("again"), Finish("stop")])
    first = api.post(continue_url(conversation), {"content": "q"}, format="json").json()
    question, old_reply = first["messages"]
    assert api.delete(f"/api/messages/{old_reply['id']}/").status_code == 204
    response = api.post(f"/api/messages/{question['id']}/reset/")
    assert response.status_code == 200, response.json()
    _question, reply = response.json()["messages"]
    assert (reply["parent_id"], reply["status"]) == (question["id"], "completed")
    assert reply["content"][0]["text"] == "again"
    assert [m["role"] for m in model.calls[-1]["messages"]] == ["user"]
    # Answered again, it is no longer the end of the branch: its reply is what resets.
    response = api.post(f"/api/messages/{question['id']}/reset/")
    assert (response.status_code, response.json()["code"]) == (400, "not_resettable")


def test_a_failing_model_stores_the_question_and_a_failed_reply(api, conversation, scripted):
    scripted([], ProviderError("upstream_error", "The model server answered 500.", status=500))
    response = api.post(continue_url(conversation), {"content": "hello?"}, format="json")
    assert response.status_code == 200
    question, reply = response.json()["messages"]
    assert question["content"][0]["text"] == "hello?"
    assert reply["status"] == "failed"
    assert reply["error"] == {
        "code": "upstream_error",
        "message": "The model server answered 500.",
        "status": 500,
    }


def test_a_reply_cut_short_keeps_what_arrived(api, conversation, scripted):
    scripted([TextDelta("Half an ans")], ProviderError("upstream_cut", "The stream broke."))
    reply = api.post(continue_url(conversation), {"content": "go"}, format="json").json()[
        "messages"
    ][-1]
    assert reply["status"] == "incomplete"
    assert text(reply) == "Half an ans"
    assert reply["error"]["code"] == "upstream_cut"


def test_a_reply_stopped_by_the_length_limit_is_incomplete(api, conversation, scripted):
    scripted([TextDelta("long"), Usage(1, 2, 0), Finish("length")])
    reply = api.post(continue_url(conversation), {"content": "go"}, format="json").json()[
        "messages"
    ][-1]
    assert (reply["status"], reply["error"]["code"]) == ("incomplete", "max_tokens")
    assert reply["usage"] == {"input_tokens": 1, "output_tokens": 2, "reasoning_tokens": 0}


def test_a_stopped_queue_is_started_by_the_next_continue(api, conversation, scripted):
    scripted([TextDelta("done"), Finish("stop")])
    question = Message.objects.create(conversation=conversation, role="user")
    waiting = Message.objects.create(
        conversation=conversation, parent=question, role="assistant", status="queued"
    )
    conversation.current_leaf = waiting
    conversation.save()
    branch = api.post(continue_url(conversation), {"content": "next"}, format="json").json()
    # Nothing was running: the waiting reply ran first, then this one.
    assert [(m["role"], m["status"]) for m in branch["messages"]] == [
        ("user", "completed"),
        ("assistant", "completed"),
        ("user", "completed"),
        ("assistant", "completed"),
    ]


def test_an_idempotent_retry_does_not_run_the_model_twice(api, conversation, scripted):
    model = scripted([TextDelta("once"), Finish("stop")])
    headers = {"HTTP_IDEMPOTENCY_KEY": "abc"}
    first = api.post(continue_url(conversation), {"content": "q"}, format="json", **headers)
    again = api.post(continue_url(conversation), {"content": "q"}, format="json", **headers)
    assert first.json() == again.json()
    assert len(model.calls) == 1
    for route in ("edit", "reset"):
        message = first.json()["messages"][0 if route == "edit" else 1]
        body = {"content": "q2"} if route == "edit" else None
        url = f"/api/messages/{message['id']}/{route}/"
        one = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=route)
        two = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=route)
        assert one.json()["messages"][-1]["id"] == two.json()["messages"][-1]["id"]
    assert len(model.calls) == 3


@pytest.mark.parametrize("turns", [1, 10])
def test_continue_query_count_does_not_grow_with_the_conversation(
    api, conversation, scripted, turns, django_assert_max_num_queries
):
    scripted([TextDelta("a"), Finish("stop")])
    for n in range(turns):
        api.post(continue_url(conversation), {"content": f"q{n}"}, format="json")
    with django_assert_max_num_queries(50):
        response = api.post(continue_url(conversation), {"content": "last"}, format="json")
    assert len(response.json()["messages"]) == 2 * (turns + 1)

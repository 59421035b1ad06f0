import json

import pytest

from conversations import services
from tests.factories import make_conversation, make_message
from tests.test_services_transfer import normalized


def test_export_import_round_trip_over_http(api, alice):
    conversation = make_conversation(alice, title="Round trip", context={"k": "v"})
    q = make_message(conversation, role="user", text="question")
    a = make_message(conversation, q, role="assistant", text="answer", usage={"output_tokens": 1})
    make_message(conversation, q, role="assistant", text="other answer")
    conversation.current_leaf = a
    conversation.save()
    services.feedback_set(message=a, user=alice, rating="bad", comment="wrong", reasons=["x"])

    export = api.get(f"/api/conversations/{conversation.id}/export/").json()
    response = api.post("/api/conversations/import/", export, format="json")
    assert response.status_code == 201, response.json()
    copy_id = response.json()["id"]
    assert response.json()["messages"][-1]["feedback"]["rating"] == "bad"
    again = api.get(f"/api/conversations/{copy_id}/export/").json()
    assert normalized(again) == normalized(export)


def test_export_as_openai_chat_messages(api, alice):
    conversation = make_conversation(alice, system_prompt="sys")
    q = make_message(conversation, role="user", text="hi")
    a = make_message(conversation, q, role="assistant", text="hello")
    conversation.current_leaf = a
    conversation.save()
    body = api.get(f"/api/conversations/{conversation.id}/export/?as=openai").json()
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]


def export_of(conversation: dict, *messages: dict) -> str:
    return json.dumps(
        {
            "format": "chatproject.conversation",
            "version": 1,
            "conversation": conversation,
            "messages": list(messages),
        }
    )


@pytest.mark.parametrize(
    "body",
    [
        export_of({}, {"id": "a", "role": "user", "parent_id": ["a"]}),
        export_of({}, {"id": "a", "role": "user", "content": [{"type": "t" * 65}]}),
        export_of({}, {"id": "a", "role": "user", "references": [{"url": "u" * 2001}]}),
        export_of({}, {"id": "a", "role": "user", "references": [{"type": "t" * 33}]}),
        export_of({"tools": ["current_time"]}),
        export_of({"created_at": "9999-12-31T23:00:00-14:00"}),
        export_of({}, {"id": "a", "role": "user", "created_at": "0001-01-01T00:00:00+01:00"}),
    ],
    ids=[
        "list parent",
        "long item type",
        "long url",
        "long reference type",
        "tools of strings",
        "after year 9999",
        "before year 1",
    ],
)
def test_an_import_that_cannot_be_stored_as_it_is_is_400_and_stores_nothing(api, body):
    response = api.post("/api/conversations/import/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_import"
    assert api.get("/api/conversations/").json()["results"] == []


def test_an_import_keeps_odd_text_and_cuts_long_titles_models_and_reference_names(api):
    odd = "a\x00b\udc00c"
    body = export_of(
        {
            "title": odd + "t" * 300,
            "system_prompt": odd,
            "tools": [{"name": odd}],
            # Not an id: the newest message is shown, as for an unknown id.
            "current_leaf_id": ["a"],
        },
        {
            "id": "a",
            "role": "assistant",
            "model": "m" * 300,
            "content": [{"type": "output_text", "text": odd}],
            "references": [{"name": "n" * 300, "content": odd}],
            "error": {"code": odd},
            "feedback": {"rating": "good", "comment": odd, "reasons": [odd]},
        },
    )
    response = api.post("/api/conversations/import/", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    kept = "a\ufffdb\ufffdc"
    conversation = api.get(f"/api/conversations/{response.json()['id']}/").json()
    assert conversation["title"] == (kept + "t" * 300)[:200]
    assert (conversation["system_prompt"], conversation["tools"]) == (kept, [{"name": kept}])
    [message] = conversation["messages"]
    assert message["model"] == "m" * 200
    assert message["content"][0]["text"] == kept
    assert message["references"][0] == {
        "type": "text",
        "name": "n" * 200,
        "url": "",
        "content": kept,
    }
    assert message["error"] == {"code": kept}
    assert (message["feedback"]["comment"], message["feedback"]["reasons"]) == (kept, [kept])
    assert api.get("/api/conversations/").status_code == 200


def test_an_import_over_the_body_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = export_of({"title": "t" * 1000})
    response = api.post("/api/conversations/import/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_import_of_something_else_is_400(api):
    response = api.post("/api/conversations/import/", {"hello": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_import"
    for body in ("{broken", "[" * 100_000 + "]" * 100_000):
        response = api.post("/api/conversations/import/", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "malformed_json"

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


def test_import_of_something_else_is_400(api):
    response = api.post("/api/conversations/import/", {"hello": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_import"
    for body in ("{broken", "[" * 100_000 + "]" * 100_000):
        response = api.post("/api/conversations/import/", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "malformed_json"

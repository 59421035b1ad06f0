"""The model picker over REST: GET /api/models/ and `model` on continue, edit and reset,
against the real `openai` SDK talking to the fake upstream (which records the model each
request named)."""

import pytest

from conversations.models import Conversation, Message, ModelOption
from tests.factories import make_conversation


@pytest.fixture
def upstream(fake_openai):
    fake_openai.models = ["fake-model", "big-model", "small-model"]
    return fake_openai


@pytest.fixture
def conversation(alice):
    return make_conversation(alice)


def continue_url(conversation) -> str:
    return f"/api/conversations/{conversation.id}/continue/"


def asked_models(fake) -> list[str]:
    return [received.body["model"] for received in fake.model_requests()]


def test_models_are_the_upstreams_with_the_configured_one_as_default(api, upstream):
    body = api.get("/api/models/").json()

    assert body["models"] == [
        {"id": "fake-model", "name": "fake-model"},
        {"id": "big-model", "name": "big-model"},
        {"id": "small-model", "name": "small-model"},
    ]
    assert body["default"] == "fake-model"


def test_the_admins_rows_restrict_order_name_and_choose_the_default(api, upstream):
    ModelOption.objects.create(model="small-model", display_name="Small", position=1)
    ModelOption.objects.create(model="big-model", display_name="Big", position=2, is_default=True)
    ModelOption.objects.create(model="fake-model", position=3, enabled=False)
    ModelOption.objects.create(model="not-upstream", position=0)

    body = api.get("/api/models/").json()

    assert body == {
        "models": [{"id": "small-model", "name": "Small"}, {"id": "big-model", "name": "Big"}],
        "default": "big-model",
    }


def test_the_admins_default_writes_replies_of_conversations_that_chose_none(
    api, upstream, conversation
):
    ModelOption.objects.create(model="big-model", is_default=True)

    branch = api.post(continue_url(conversation), {"content": "hi"}, format="json").json()

    assert branch["messages"][-1]["model"] == "big-model"
    assert asked_models(upstream) == ["big-model"]


def test_the_demo_provider_offers_its_one_model(api, settings):
    settings.LLM_PROVIDER = "demo"
    settings.LLM_MODEL = ""

    body = api.get("/api/models/").json()

    assert len(body["models"]) == 1
    assert body["default"] == body["models"][0]["id"]


def test_models_need_a_login(anon):
    assert anon.get("/api/models/").status_code in (401, 403)


def test_continue_with_a_model_asks_it_stores_it_and_the_conversation_keeps_it(
    api, upstream, conversation
):
    first = api.post(
        continue_url(conversation), {"content": "hi", "model": "big-model"}, format="json"
    )
    second = api.post(continue_url(conversation), {"content": "again"}, format="json")

    assert first.status_code == 200, first.json()
    assert first.json()["messages"][-1]["model"] == "big-model"
    assert second.json()["messages"][-1]["model"] == "big-model"
    assert asked_models(upstream) == ["big-model", "big-model"]
    assert api.get(f"/api/conversations/{conversation.id}/").json()["model"] == "big-model"


def test_a_model_not_offered_is_a_400_and_nothing_is_stored(api, upstream, conversation):
    ModelOption.objects.create(model="small-model")

    response = api.post(
        continue_url(conversation), {"content": "hi", "model": "big-model"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_model"
    assert "big-model" in response.json()["detail"]
    assert "small-model" in response.json()["detail"]
    assert not Message.objects.filter(conversation=conversation).exists()
    assert upstream.model_requests() == []
    conversation.refresh_from_db()
    assert conversation.model == ""


def test_regenerate_with_another_model_keeps_the_old_reply(api, upstream, conversation):
    upstream.reply(text="from fake")
    upstream.reply(text="from small")
    branch = api.post(continue_url(conversation), {"content": "q"}, format="json").json()
    old = branch["messages"][-1]

    response = api.post(
        f"/api/messages/{old['id']}/reset/", {"model": "small-model"}, format="json"
    )

    new = response.json()["messages"][-1]
    assert (new["model"], new["content"][0]["text"]) == ("small-model", "from small")
    assert Message.objects.get(id=old["id"]).model == "fake-model"
    assert asked_models(upstream) == ["fake-model", "small-model"]


def test_regenerate_with_a_model_not_offered_is_a_400(api, upstream, conversation):
    branch = api.post(continue_url(conversation), {"content": "q"}, format="json").json()

    response = api.post(
        f"/api/messages/{branch['messages'][-1]['id']}/reset/", {"model": "gpt-9"}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (400, "invalid_model")
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_edit_with_a_model(api, upstream, conversation):
    branch = api.post(continue_url(conversation), {"content": "q"}, format="json").json()

    response = api.post(
        f"/api/messages/{branch['messages'][0]['id']}/edit/",
        {"content": "q, edited", "model": "big-model"},
        format="json",
    )

    assert response.json()["messages"][-1]["model"] == "big-model"
    assert asked_models(upstream)[-1] == "big-model"


def test_a_new_conversation_with_a_first_message_takes_its_model(api, upstream):
    created = api.post(
        "/api/conversations/",
        {"model": "small-model", "message": {"content": "hello"}},
        format="json",
    )
    refused = api.post(
        "/api/conversations/", {"model": "gpt-9", "message": {"content": "hello"}}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert created.json()["model"] == "small-model"
    assert created.json()["messages"][-1]["model"] == "small-model"
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_model")
    assert Conversation.objects.count() == 1

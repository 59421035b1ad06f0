"""MODERATION=1: user input is checked upstream first; flags are stored or the message refused."""

import pytest

from conversations.models import Message
from tests.factories import make_conversation


@pytest.fixture
def conversation(alice):
    return make_conversation(alice)


@pytest.fixture
def moderated(settings, fake_openai):
    settings.MODERATION = True
    fake_openai.flagged_words = {"fireball": "violence"}
    return settings


def url(conversation):
    return f"/api/conversations/{conversation.id}/continue/"


def test_flags_are_recorded_on_the_message(api, conversation, moderated, fake_openai):
    response = api.post(url(conversation), {"content": "Cast a fireball"}, format="json")
    assert response.status_code == 200
    question = response.json()["messages"][0]
    assert question["flags"] == {"flagged": True, "categories": ["violence"]}
    assert Message.objects.get(id=question["id"]).flags["flagged"] is True
    clean = api.post(url(conversation), {"content": "Say hi"}, format="json").json()
    assert clean["messages"][-2]["flags"] == {"flagged": False, "categories": []}
    assert [r.path for r in fake_openai.requests].count("/v1/moderations") == 2


def test_refuse_mode_stores_nothing_and_says_why(api, conversation, moderated, fake_openai):
    moderated.MODERATION_ACTION = "refuse"
    response = api.post(url(conversation), {"content": "Cast a fireball"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "content_flagged"
    assert "violence" in response.json()["detail"]
    assert not Message.objects.exists()
    assert not fake_openai.model_requests()


def test_a_failing_moderation_endpoint_blocks_only_in_refuse_mode(
    api, conversation, moderated, fake_openai
):
    moderated.MODERATION_ACTION = "refuse"
    fake_openai.moderation_error = 500
    response = api.post(url(conversation), {"content": "Hello"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "moderation_unavailable"
    assert not Message.objects.exists()

    moderated.MODERATION_ACTION = "record"
    response = api.post(url(conversation), {"content": "Hello"}, format="json")
    assert response.status_code == 200
    assert response.json()["messages"][0]["flags"] is None

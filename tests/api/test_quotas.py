"""Daily token quotas and GET /api/usage/ over REST, with replies written by the fake
upstream, which reports each reply's usage."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message, TokenUsage, UserQuota
from tests.factories import make_conversation


@pytest.fixture
def conversation(alice):
    return make_conversation(alice)


def used(user, input_tokens, output_tokens, *, hours_ago=0.0, model="fake-model"):
    """Usage of an earlier reply, `hours_ago`."""
    return TokenUsage.objects.create(
        user=user,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        created_at=timezone.now() - timedelta(hours=hours_ago),
    )


def say(api, conversation, text="hi", **body):
    return api.post(
        f"/api/conversations/{conversation.id}/continue/", {"content": text, **body}, format="json"
    )


def test_a_reply_records_the_upstreams_usage(api, alice, conversation, fake_openai):
    fake_openai.reply(text="Hello", usage=(11, 4, 2))

    reply = say(api, conversation).json()["messages"][-1]

    assert reply["usage"] == {"input_tokens": 11, "output_tokens": 4, "reasoning_tokens": 2}
    row = TokenUsage.objects.get(user=alice)
    assert (row.model, row.input_tokens, row.output_tokens, str(row.message_id)) == (
        "fake-model",
        11,
        4,
        reply["id"],
    )


def test_a_turn_at_the_quota_is_refused_with_429_and_nothing_is_stored(
    api, alice, conversation, fake_openai, settings
):
    settings.CHAT_DAILY_TOKEN_QUOTA = 100
    oldest = used(alice, 30, 30, hours_ago=20)
    used(alice, 20, 20, hours_ago=2)

    response = say(api, conversation)

    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert body["daily_tokens"] == 100
    # Once the oldest usage is 24 hours old, 40 of 100 tokens are left.
    assert body["resets_at"] == (oldest.created_at + timedelta(hours=24)).isoformat()
    assert "100 tokens" in body["detail"] and "4 hours" in body["detail"]
    assert not Message.objects.filter(conversation=conversation).exists()
    assert fake_openai.model_requests() == []


def test_under_the_quota_a_turn_goes_and_older_usage_does_not_count(
    api, alice, conversation, fake_openai, settings
):
    settings.CHAT_DAILY_TOKEN_QUOTA = 90
    used(alice, 500, 500, hours_ago=25)
    used(alice, 40, 40)
    fake_openai.reply(text="Hello", usage=(5, 7, 0))

    assert say(api, conversation).status_code == 200
    # 80 + the reply's 5 + 7: over the quota now, so the next turn is refused.
    assert say(api, conversation).status_code == 429


def test_deleting_conversations_gives_no_tokens_back(api, alice, fake_openai, settings):
    settings.CHAT_DAILY_TOKEN_QUOTA = 12
    conversation = make_conversation(alice)
    fake_openai.reply(text="Hello", usage=(5, 7, 0))
    assert say(api, conversation).status_code == 200

    api.delete(f"/api/conversations/{conversation.id}/")

    assert say(api, make_conversation(alice)).status_code == 429


def test_a_users_own_quota_overrides_the_default(
    api, bob_api, alice, bob, conversation, fake_openai, settings
):
    settings.CHAT_DAILY_TOKEN_QUOTA = 10
    used(alice, 50, 50)
    used(bob, 50, 50)
    UserQuota.objects.create(user=alice, daily_tokens=1000)
    bobs = make_conversation(bob)

    assert say(api, conversation).status_code == 200
    assert say(bob_api, bobs).status_code == 429

    UserQuota.objects.create(user=bob, unlimited=True)
    assert say(bob_api, bobs).status_code == 200


def test_an_own_quota_applies_without_a_default(api, alice, conversation, fake_openai):
    UserQuota.objects.create(user=alice, daily_tokens=0)

    response = say(api, conversation)

    assert (response.status_code, response.json()["resets_at"]) == (429, None)
    assert "0" in response.json()["detail"]


def test_every_way_to_start_a_turn_is_refused(api, alice, conversation, fake_openai, settings):
    fake_openai.reply(text="Hello", usage=(5, 7, 0))
    branch = say(api, conversation).json()["messages"]
    settings.CHAT_DAILY_TOKEN_QUOTA = 1
    count = Message.objects.count()

    refused = [
        say(api, conversation, stream=True),
        api.post(f"/api/messages/{branch[0]['id']}/edit/", {"content": "x"}, format="json"),
        api.post(f"/api/messages/{branch[1]['id']}/reset/", {}, format="json"),
        api.post("/api/conversations/", {"message": {"content": "new"}}, format="json"),
    ]

    assert [response.status_code for response in refused] == [429, 429, 429, 429]
    assert Message.objects.count() == count
    assert Conversation.objects.count() == 1
    assert len(fake_openai.model_requests()) == 1


def test_usage_sums_today_thirty_days_and_by_model(api, alice, bob, settings):
    settings.CHAT_DAILY_TOKEN_QUOTA = 1000
    used(alice, 10, 5)
    used(alice, 1, 2, model="big-model")
    used(alice, 100, 100, hours_ago=24 * 10)
    used(alice, 7000, 7000, hours_ago=24 * 40)
    used(bob, 999, 999)

    body = api.get("/api/usage/").json()

    assert body["today"]["total_tokens"] == 18
    assert body["last_30_days"] == {
        "input_tokens": 111,
        "output_tokens": 107,
        "reasoning_tokens": 0,
        "total_tokens": 218,
        "replies": 3,
    }
    assert [(row["model"], row["total_tokens"]) for row in body["by_model"]] == [
        ("fake-model", 215),
        ("big-model", 3),
    ]
    assert body["quota"] == {"daily_tokens": 1000, "used": 18, "remaining": 982, "resets_at": None}


def test_usage_without_a_quota(api):
    body = api.get("/api/usage/").json()

    assert body["quota"] == {"daily_tokens": None, "used": 0, "remaining": None, "resets_at": None}
    assert body["by_model"] == []


def test_usage_needs_a_login(anon):
    assert anon.get("/api/usage/").status_code in (401, 403)

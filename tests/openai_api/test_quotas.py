"""The daily token quota on /v1, through the live server and the real `openai` SDK: the
same check as the chat's, answered in OpenAI's error shape."""

import openai
import pytest
from django.utils import timezone

from conversations.models import Conversation, Message, TokenUsage

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def spent(alice, settings):
    settings.CHAT_DAILY_TOKEN_QUOTA = 100
    TokenUsage.objects.create(
        user=alice, input_tokens=60, output_tokens=40, created_at=timezone.now()
    )


def test_a_completion_over_the_quota_is_a_429_and_stores_nothing(fake_openai, client, spent):
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="fake-model", messages=MESSAGES)

    assert caught.value.body["code"] == "quota_exceeded"
    assert "100 tokens" in caught.value.body["message"]
    assert not Conversation.objects.exists()
    assert fake_openai.model_requests() == []


def test_a_response_over_the_quota_is_a_429(fake_openai, client, spent):
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="fake-model", input="Hi", stream=True)

    assert caught.value.body["code"] == "quota_exceeded"
    assert not Message.objects.exists()


def test_an_unstored_completion_still_counts(fake_openai, client, alice):
    fake_openai.reply(text="Hello", usage=(9, 3, 0))

    client.chat.completions.create(model="fake-model", messages=MESSAGES, store=False)

    assert not Conversation.objects.exists()
    row = TokenUsage.objects.get(user=alice)
    assert (row.input_tokens, row.output_tokens, row.message_id) == (9, 3, None)

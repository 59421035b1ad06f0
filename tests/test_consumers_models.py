"""The model picker and the token quota on the websocket: `model` on message.create and
message.reset, and the error frames of a model not offered and of a spent quota."""

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from conversations.models import Message, TokenUsage
from tests.factories import make_conversation
from tests.websocket import open_socket

pytestmark = pytest.mark.django_db(transaction=True)

FINISHED = ("message.completed", "message.failed")


@pytest.fixture
def conversation(alice):
    return make_conversation(alice, title="Models")


@pytest.fixture
def upstream(fake_openai):
    fake_openai.models = ["fake-model", "big-model"]
    return fake_openai


async def receive_until(tab, types):
    frames = []
    while True:
        frames.append(await tab.receive_json_from(timeout=10))
        if frames[-1]["type"] in types:
            return frames


@database_sync_to_async
def message_count(conversation) -> int:
    return Message.objects.filter(conversation=conversation).count()


async def test_a_message_names_its_model_and_regenerate_another(
    conversation, alice, upstream, running_replies
):
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "hi", "model": "big-model"})
    first = (await receive_until(tab, FINISHED))[-1]["message"]

    await tab.send_json_to(
        {"type": "message.reset", "message_id": first["id"], "model": "fake-model"}
    )
    second = (await receive_until(tab, FINISHED))[-1]["message"]

    assert (first["model"], second["model"]) == ("big-model", "fake-model")
    assert [r.body["model"] for r in upstream.model_requests()] == ["big-model", "fake-model"]
    await tab.disconnect()


async def test_a_model_not_offered_gets_an_error_frame_and_stores_nothing(
    conversation, alice, upstream
):
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to(
        {"type": "message.create", "content": "hi", "model": "gpt-9", "idempotency_key": "k1"}
    )

    frame = await tab.receive_json_from(timeout=10)

    assert frame["type"] == "error"
    assert (frame["code"], frame["idempotency_key"]) == ("invalid_model", "k1")
    assert "gpt-9" in frame["detail"]
    assert await message_count(conversation) == 0
    await tab.disconnect()


async def test_a_spent_quota_gets_an_error_frame_with_when_it_resets(
    conversation, alice, upstream, settings
):
    settings.CHAT_DAILY_TOKEN_QUOTA = 50
    await database_sync_to_async(TokenUsage.objects.create)(
        user=alice, input_tokens=40, output_tokens=10, created_at=timezone.now()
    )
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "hi", "idempotency_key": "k2"})

    frame = await tab.receive_json_from(timeout=10)

    assert (frame["type"], frame["code"], frame["idempotency_key"]) == (
        "error",
        "quota_exceeded",
        "k2",
    )
    assert frame["resets_at"] and frame["daily_tokens"] == 50
    assert await message_count(conversation) == 0
    assert upstream.model_requests() == []
    await tab.disconnect()

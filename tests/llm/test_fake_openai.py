"""The fake upstream speaks formats the real SDK parses; adapters read what it returns."""

import openai
import pytest

from conversations.llm.adapters import (
    chat_completion_to_message,
    response_to_message,
    streaming_chat_completion_to_message,
    streaming_response_to_message,
)


def sdk(fake_openai):
    return openai.AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)


SCRIPT = {
    "text": "Hello world",
    "reasoning": "Think first",
    "tool_calls": [("call_1", "calculate", '{"expression": "1 + 1"}')],
    "usage": (4, 6, 2),
}


async def test_whole_and_streamed_chat_completions_give_the_same_message(fake_openai):
    fake_openai.reply(**SCRIPT)
    fake_openai.reply(**SCRIPT)
    async with sdk(fake_openai) as api:
        whole = await api.chat.completions.create(model="m", messages=[])
        stream = await api.chat.completions.create(
            model="m", messages=[], stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]

    (from_whole,) = chat_completion_to_message(whole)
    (from_chunks,), _ = streaming_chat_completion_to_message(chunks)
    assert from_whole == from_chunks
    assert [item["type"] for item in from_whole["content"]] == [
        "reasoning",
        "output_text",
        "function_call",
    ]
    assert from_whole["usage"] == {"input_tokens": 4, "output_tokens": 6, "reasoning_tokens": 2}
    assert chunks[-1].choices == []


async def test_whole_and_streamed_responses_give_the_same_message(fake_openai):
    fake_openai.reply(**SCRIPT)
    fake_openai.reply(**SCRIPT)
    async with sdk(fake_openai) as api:
        whole = await api.responses.create(model="m", input="Hi", store=False)
        stream = await api.responses.create(model="m", input="Hi", store=False, stream=True)
        events = [event async for event in stream]

    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"
    from_events, _ = streaming_response_to_message(events)
    assert from_events == response_to_message(whole)
    # Without the terminal event, the deltas and done events build the same content.
    partial, _ = streaming_response_to_message(events[:-1])
    assert partial["content"] == from_events["content"]


async def test_errors_come_with_the_openai_error_body(fake_openai):
    fake_openai.error(404, "No such model", code="model_not_found", type="invalid_request_error")
    async with sdk(fake_openai) as api:
        with pytest.raises(openai.NotFoundError) as caught:
            await api.chat.completions.create(model="nope", messages=[])
    error = caught.value
    assert error.status_code == 404
    assert error.body["code"] == "model_not_found"
    assert "No such model" in error.message


async def test_models_are_listed_and_every_request_is_recorded(fake_openai):
    async with sdk(fake_openai) as api:
        models = await api.models.list()
    assert [model.id for model in models.data] == ["fake-model"]
    assert [(r.method, r.path) for r in fake_openai.requests] == [("GET", "/v1/models")]

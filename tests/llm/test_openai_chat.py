"""The `openai` provider (Chat Completions) end to end against the fake upstream."""

import json

import pytest

from conversations.llm.base import Finish, TextDelta

from .helpers import run, user


async def test_text_streams_with_reasoning_and_usage(fake_openai):
    fake_openai.reply("Hello there, Alice.", reasoning="Greet her.", usage=(11, 4, 2))
    reply, events, error = await run([user("Hi, I am Alice")], system_prompt="Be kind.")

    assert error is None
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello ", "there, ", "Alice."]
    assert reply.content == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Greet her."}]},
        {"type": "output_text", "text": "Hello there, Alice.", "annotations": []},
    ]
    assert reply.usage == {"input_tokens": 11, "output_tokens": 4, "reasoning_tokens": 2}
    assert reply.finish_reason == "stop"
    body = fake_openai.requests[-1].body
    assert fake_openai.requests[-1].path == "/v1/chat/completions"
    assert body["model"] == "fake-model"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi, I am Alice"},
    ]
    assert "tools" not in body
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("line_end", ["\r\n", "\r"])
async def test_a_stream_whose_lines_end_in_crlf_or_cr_reads_the_same(fake_openai, line_end):
    fake_openai.reply("Hello there, Alice.", usage=(11, 4, 0), line_end=line_end)
    reply, events, error = await run([user("Hi")])

    assert error is None
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello ", "there, ", "Alice."]
    assert reply.content == [
        {"type": "output_text", "text": "Hello there, Alice.", "annotations": []}
    ]
    assert reply.usage == {"input_tokens": 11, "output_tokens": 4, "reasoning_tokens": 0}
    assert reply.finish_reason == "stop"


async def test_the_model_named_by_the_conversation_wins_over_the_setting(fake_openai):
    await run([user("Hi")], model="other-model")
    assert fake_openai.requests[-1].body["model"] == "other-model"


async def test_a_tool_call_runs_and_the_model_answers_with_its_result(fake_openai):
    fake_openai.reply(
        tool_calls=[("call_1", "calculate", '{"expression": "6 * 7"}')], usage=(20, 5, 0)
    )
    fake_openai.reply("It is 42.", usage=(30, 3, 0))
    reply, _, error = await run([user("What is 6 * 7?")], tools=["calculate"])

    assert error is None
    assert reply.content == [
        {"type": "function_call", "call_id": "call_1", "name": "calculate",
         "arguments": '{"expression": "6 * 7"}'},
        {"type": "function_call_output", "call_id": "call_1",
         "output": '{"expression": "6 * 7", "value": 42}'},
        {"type": "output_text", "text": "It is 42.", "annotations": []},
    ]  # fmt: skip
    assert reply.usage == {"input_tokens": 50, "output_tokens": 8, "reasoning_tokens": 0}
    assert reply.finish_reason == "stop"
    first, second = (request.body for request in fake_openai.model_requests())
    assert [tool["function"]["name"] for tool in first["tools"]] == ["calculate"]
    assert first["tools"][0]["type"] == "function"
    assert first["tools"][0]["function"]["parameters"]["required"] == ["expression"]
    assert second["messages"] == [
        {"role": "user", "content": "What is 6 * 7?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "calculate", "arguments": '{"expression": "6 * 7"}'}}]},
        {"role": "tool", "tool_call_id": "call_1",
         "content": '{"expression": "6 * 7", "value": 42}'},
    ]  # fmt: skip


async def test_parallel_tool_calls_are_joined_by_index(fake_openai):
    fake_openai.reply(
        tool_calls=[
            ("call_a", "current_time", '{"timezone": "UTC"}'),
            ("call_b", "calculate", '{"expression": "2 ** 10"}'),
        ]
    )
    fake_openai.reply("Done.")
    reply, _, _ = await run([user("Time and 2**10?")], tools=["current_time", "calculate"])

    calls = [item for item in reply.content if item["type"] == "function_call"]
    outputs = [item for item in reply.content if item["type"] == "function_call_output"]
    assert [(c["call_id"], c["arguments"]) for c in calls] == [
        ("call_a", '{"timezone": "UTC"}'),
        ("call_b", '{"expression": "2 ** 10"}'),
    ]
    assert json.loads(outputs[1]["output"])["value"] == 1024
    assert json.loads(outputs[0]["output"])["timezone"] == "UTC"


async def test_a_refusal_is_its_own_content_item(fake_openai):
    fake_openai.reply(refusal="I can't help with that.")
    reply, _, _ = await run([user("Something bad")])
    assert reply.content == [{"type": "refusal", "refusal": "I can't help with that."}]


async def test_finish_reason_length_and_content_filter_come_through(fake_openai):
    fake_openai.reply("Cut", finish="length")
    reply, _, _ = await run([user("Long story")])
    assert reply.finish_reason == "length"

    fake_openai.reply("Par", finish="content_filter")
    reply, _, _ = await run([user("Hmm")])
    assert reply.finish_reason == "content_filter"
    assert reply.content[-1]["type"] == "refusal"


@pytest.mark.parametrize(
    ("status", "body_code", "code"),
    [
        (429, "rate_limit_exceeded", "rate_limited"),
        (401, "invalid_api_key", "auth_failed"),
        (403, None, "auth_failed"),
        (400, "context_length_exceeded", "context_length"),
        (400, "content_policy_violation", "content_filter"),
        (500, None, "upstream_error"),
        (503, None, "upstream_error"),
    ],
)
async def test_error_statuses_map_to_stable_codes(fake_openai, status, body_code, code):
    fake_openai.error(status, "Upstream says no.", code=body_code)
    _, events, error = await run([user("Hi")])

    assert events == []
    assert error.code == code
    assert error.status == status
    assert "Upstream says no." in error.detail
    if code == "upstream_error":
        assert error.as_dict() == {"code": code, "message": error.detail, "status": status}


async def test_a_failed_request_is_retried_as_the_settings_say(fake_openai, settings):
    settings.LLM_MAX_RETRIES = 1
    fake_openai.error(503, "Overloaded")
    fake_openai.reply("Second time lucky")
    reply, _, error = await run([user("Hi")])

    assert error is None
    assert reply.content[0]["text"] == "Second time lucky"
    assert len(fake_openai.model_requests()) == 2


async def test_a_stream_cut_midway_keeps_what_arrived(fake_openai):
    fake_openai.reply("one two three four five", cut_after=3)  # role chunk + 2 words
    reply, events, error = await run([user("Count")])

    assert error.code == "connection_lost"
    assert reply.content == [{"type": "output_text", "text": "one two ", "annotations": []}]
    assert not any(isinstance(e, Finish) for e in events)


async def test_an_error_reported_inside_the_stream_keeps_what_arrived(fake_openai):
    fake_openai.reply(
        "partial answer",
        stream_error={"message": "Too many requests", "code": "rate_limit_exceeded"},
    )
    reply, _, error = await run([user("Hi")])

    assert error.code == "rate_limited"
    assert reply.content[0]["text"] == "partial answer"


async def test_a_silent_server_times_out(fake_openai, settings):
    settings.LLM_FIRST_TOKEN_TIMEOUT = 0.2
    fake_openai.reply("Too late", first_token_delay=2)
    reply, _, error = await run([user("Hi")])

    assert error.code == "timeout"
    assert reply.content == []


async def test_an_unreachable_server_is_a_lost_connection(fake_openai, settings):
    fake_openai.stop()
    _, _, error = await run([user("Hi")])
    assert error.code == "connection_lost"


async def test_a_stream_that_ends_before_its_finish_reason_is_a_lost_connection(fake_openai):
    fake_openai.reply("one two three", end_after=2)  # role chunk + "one "
    reply, _, error = await run([user("Count")])

    assert error.code == "connection_lost"
    assert reply.content == [{"type": "output_text", "text": "one ", "annotations": []}]

"""The `openai-responses` provider end to end against the fake upstream."""

import pytest

from .helpers import run, user

CITATION = {
    "type": "url_citation",
    "url": "https://example.com/otters",
    "title": "Otters",
    "start_index": 0,
    "end_index": 6,
}


@pytest.fixture
def responses(fake_openai, settings):
    settings.LLM_PROVIDER = "openai-responses"
    return fake_openai


async def test_text_reasoning_annotations_and_usage_stream_through(responses):
    responses.reply(
        "Otters hold hands.", reasoning="Recall otters.", annotations=[CITATION], usage=(9, 5, 3)
    )
    reply, _, error = await run([user("Tell me about otters")], system_prompt="Be brief.")

    assert error is None
    assert reply.content == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Recall otters."}]},
        {"type": "output_text", "text": "Otters hold hands.", "annotations": [CITATION]},
    ]
    assert reply.usage == {"input_tokens": 9, "output_tokens": 5, "reasoning_tokens": 3}
    assert reply.finish_reason == "stop"
    request = responses.requests[-1]
    assert request.path == "/v1/responses"
    assert request.body["store"] is False
    assert request.body["stream"] is True
    assert request.body["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": "Tell me about otters"}]},
    ]


async def test_the_whole_history_is_sent_each_time_without_reasoning(responses):
    history = [
        user("Hi"),
        {
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]},
                {"type": "output_text", "text": "Hello!", "annotations": []},
            ],
        },
        user("Again"),
    ]
    await run(history)
    body = responses.requests[-1].body
    assert "previous_response_id" not in body
    assert body["input"] == [
        {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "input_text", "text": "Again"}]},
    ]


async def test_a_tool_call_runs_and_the_model_answers(responses):
    responses.reply(tool_calls=[("call_9", "calculate", '{"expression": "2 + 2"}')])
    responses.reply("Four.")
    reply, _, error = await run([user("2 + 2?")], tools=["calculate"])

    assert error is None
    assert [item["type"] for item in reply.content] == [
        "function_call",
        "function_call_output",
        "output_text",
    ]
    assert reply.content[0]["arguments"] == '{"expression": "2 + 2"}'
    first, second = (request.body for request in responses.model_requests())
    assert first["tools"][0]["name"] == "calculate"
    assert first["tools"][0]["type"] == "function"
    assert second["input"][1:] == [
        {"type": "function_call", "call_id": "call_9", "name": "calculate",
         "arguments": '{"expression": "2 + 2"}'},
        {"type": "function_call_output", "call_id": "call_9",
         "output": '{"expression": "2 + 2", "value": 4}'},
    ]  # fmt: skip


async def test_a_refusal_comes_through(responses):
    responses.reply(refusal="No.")
    reply, _, _ = await run([user("Bad idea")])
    assert reply.content == [{"type": "refusal", "refusal": "No."}]


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "length"), ("content_filter", "content_filter")]
)
async def test_an_incomplete_response_says_why(responses, finish, reason):
    responses.reply("Half", finish=finish)
    reply, _, error = await run([user("Hi")])
    assert error is None
    assert reply.finish_reason == reason


async def test_events_whose_lines_end_in_crlf_read_the_same(responses):
    # `event:` and `data:` lines, each event cut in two between its CR and its LF.
    responses.reply("alpha beta", usage=(3, 2, 0), line_end="\r\n")
    reply, _, error = await run([user("Hi")])
    assert error is None
    assert reply.content == [{"type": "output_text", "text": "alpha beta", "annotations": []}]
    assert reply.usage == {"input_tokens": 3, "output_tokens": 2, "reasoning_tokens": 0}


async def test_an_error_event_mid_stream_keeps_the_text(responses):
    responses.reply(
        "Some text", stream_error={"code": "context_length_exceeded", "message": "Too long."}
    )
    reply, _, error = await run([user("Hi")])
    assert error.code == "context_length"
    assert reply.content[0]["text"] == "Some text"


async def test_a_cut_stream_keeps_what_arrived(responses):
    # created, in_progress, item added, part added, then two deltas.
    responses.reply("alpha beta gamma", cut_after=6)
    reply, _, error = await run([user("Hi")])
    assert error.code == "connection_lost"
    assert reply.content == [{"type": "output_text", "text": "alpha beta ", "annotations": []}]


async def test_error_statuses_map_to_stable_codes(responses):
    responses.error(429, "Slow down", code="rate_limit_exceeded")
    _, _, error = await run([user("Hi")])
    assert (error.code, error.status, error.retryable) == ("rate_limited", 429, True)


async def test_a_stream_that_ends_without_its_terminal_event_is_a_lost_connection(responses):
    responses.reply("alpha beta", end_after=5)
    reply, _, error = await run([user("Hi")])
    assert error.code == "connection_lost"
    assert reply.content == [{"type": "output_text", "text": "alpha ", "annotations": []}]


async def test_a_failed_response_keeps_the_text_and_says_why(responses):
    responses.reply("Started", failed={"code": "server_error", "message": "The model crashed."})
    reply, _, error = await run([user("Hi")])
    assert error.code == "upstream_error"
    assert "The model crashed." in error.detail
    assert reply.content[0]["text"] == "Started"

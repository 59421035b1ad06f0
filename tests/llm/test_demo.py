import json

from conversations.llm import reply_events
from conversations.llm.accumulate import ReplyAccumulator
from conversations.llm.base import Finish, FunctionCallDone, FunctionCallOutput
from conversations.llm.demo import DemoProvider


def user(text):
    return {"role": "user", "content": [{"type": "input_text", "text": text}], "references": []}


async def reply_to(messages, **kwargs):
    reply = ReplyAccumulator()
    events = [event async for event in reply_events(messages, provider=DemoProvider(), **kwargs)]
    for event in events:
        reply.apply(event)
    return reply, events


async def test_the_demo_quotes_the_question_says_what_it_is_and_shows_markdown():
    reply, _ = await reply_to([user("Hello"), {"role": "assistant", "content": []}, user("Bye")])
    reasoning, text = reply.content
    assert reasoning["type"] == "reasoning" and reasoning["summary"][0]["text"]
    assert text["text"].startswith("You said: *Bye*")
    assert "demo model" in text["text"]
    assert "```python" in text["text"]
    assert reply.finish_reason == "stop"
    assert reply.usage["output_tokens"] > 0


async def test_the_demo_is_deterministic():
    first, _ = await reply_to([user("Same question")])
    second, _ = await reply_to([user("Same question")])
    assert first.content == second.content


async def test_asked_for_the_time_with_the_tool_enabled_the_demo_calls_it_then_answers():
    reply, events = await reply_to([user("What time is it?")], tools=["current_time"])
    assert [item["type"] for item in reply.content] == [
        "reasoning", "function_call", "function_call_output", "reasoning", "output_text"
    ]  # fmt: skip
    call = next(event for event in events if isinstance(event, FunctionCallDone))
    output = next(event for event in events if isinstance(event, FunctionCallOutput))
    assert call.name == "current_time" and output.call_id == call.call_id
    assert json.loads(output.output)["now"] in reply.content[-1]["text"]
    assert [event.reason for event in events if isinstance(event, Finish)] == ["stop"]


async def test_asked_for_the_time_without_the_tool_the_demo_says_how_to_enable_it():
    reply, _ = await reply_to([user("What time is it?")])
    assert [item["type"] for item in reply.content] == ["reasoning", "output_text"]
    assert "enable the `current_time` tool" in reply.content[1]["text"]

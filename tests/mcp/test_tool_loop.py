"""MCP tools in the tool loop of `reply_events`: offered to the model through the real
`openai` SDK and the fake upstream (Chat Completions and Responses), called on the real
time server, their outputs sent back to the model."""

import json

import pytest

from conversations.llm import reply_events
from conversations.llm.base import Finish, FunctionCallDone, FunctionCallOutput, FunctionCallStart
from tests.mcp.test_hub import TOKYO
from tests.mcp_servers import misbehaving_server, time_server

USER = [{"role": "user", "content": [{"type": "input_text", "text": "Noon UTC in Tokyo?"}]}]
PROVIDERS = ["openai", "openai-responses"]


def offered(request) -> dict[str, dict]:
    """The tools a model request offered, by name, in Responses' flat shape."""
    tools = request.body.get("tools") or []
    return {spec["name"]: spec for spec in (tool.get("function", tool) for tool in tools)}


def sent_back(request) -> dict:
    """The last tool output a model request carried, as {call_id, output}."""
    if "messages" in request.body:
        message = request.body["messages"][-1]
        assert message["role"] == "tool"
        return {"call_id": message["tool_call_id"], "output": message["content"]}
    item = request.body["input"][-1]
    assert item["type"] == "function_call_output"
    return {"call_id": item["call_id"], "output": item["output"]}


async def reply(tools):
    return [event async for event in reply_events(USER, tools=tools)]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_named_server_s_tools_are_offered_and_the_call_runs_on_it(
    fake_openai, mcp_servers, settings, provider
):
    settings.LLM_PROVIDER = provider
    mcp_servers(time=time_server())
    fake_openai.reply(tool_calls=[("call_1", "time__convert_time", json.dumps(TOKYO))])
    fake_openai.reply(text="It is 21:00 in Tokyo.")

    events = await reply(["time__*"])

    first, second = fake_openai.model_requests()
    tools = offered(first)
    assert set(tools) == {"time__get_current_time", "time__convert_time"}
    assert tools["time__convert_time"]["strict"] is False
    assert tools["time__convert_time"]["parameters"]["required"] == [
        "source_timezone",
        "time",
        "target_timezone",
    ]
    output = next(event for event in events if isinstance(event, FunctionCallOutput))
    assert (output.server, output.is_error) == ("time", False)
    assert json.loads(output.output)["time_difference"] == "+9.0h"
    assert sent_back(second) == {"call_id": "call_1", "output": output.output}
    calls = [event for event in events if isinstance(event, FunctionCallStart | FunctionCallDone)]
    assert {event.server for event in calls} == {"time"}
    assert events[-1] == Finish("stop")


async def test_one_tool_can_be_named_alone(fake_openai, mcp_servers):
    mcp_servers(time=time_server())

    await reply(["time__convert_time", "calculate"])

    assert set(offered(fake_openai.model_requests()[0])) == {"time__convert_time", "calculate"}


async def test_a_default_server_s_tools_are_offered_to_every_conversation(fake_openai, mcp_servers):
    mcp_servers(time=time_server(default=True), odd=misbehaving_server())

    await reply([])

    assert set(offered(fake_openai.model_requests()[0])) == {
        "time__get_current_time",
        "time__convert_time",
    }


async def test_tools_of_a_server_that_failed_are_not_offered_and_the_reply_goes_on(
    fake_openai, mcp_servers
):
    mcp_servers(gone={"command": "/nonexistent/mcp-server", "default": True})
    fake_openai.reply(text="No tools today.")

    events = await reply(["gone__*"])

    assert "tools" not in fake_openai.model_requests()[0].body
    assert events[-1] == Finish("stop")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_tool_error_goes_back_to_the_model_and_the_reply_completes(
    fake_openai, mcp_servers, settings, provider
):
    settings.LLM_PROVIDER = provider
    mcp_servers(time=time_server())
    arguments = json.dumps({"timezone": "Mars/Olympus"})
    fake_openai.reply(tool_calls=[("call_1", "time__get_current_time", arguments)])
    fake_openai.reply(tool_calls=[("call_2", "time__convert_time", "{not json")])
    fake_openai.reply(text="That zone does not exist.")

    events = await reply(["time__*"])

    outputs = [event for event in events if isinstance(event, FunctionCallOutput)]
    assert [(output.is_error, output.server) for output in outputs] == [(True, "time")] * 2
    assert "Invalid timezone" in outputs[0].output
    assert outputs[1].output.startswith("Error: the arguments are not valid JSON")
    requests = fake_openai.model_requests()
    assert sent_back(requests[1])["output"] == outputs[0].output
    assert sent_back(requests[2])["output"] == outputs[1].output
    assert events[-1] == Finish("stop")

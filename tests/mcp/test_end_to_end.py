"""A conversation using an MCP server's tools on the live ASGI server: the REST API, the
runner, the fake upstream asking for the tool, the real time server answering it."""

import json

import httpx
import pytest
from rest_framework.authtoken.models import Token

from tests.mcp.test_hub import TOKYO
from tests.mcp_servers import time_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(server_url, alice):
    token = Token.objects.create(user=alice)
    headers = {"Authorization": f"Token {token.key}"}
    with httpx.Client(base_url=f"{server_url}/api", headers=headers, timeout=60) as client:
        yield client


def ask(api, content, tools) -> dict:
    """Start a conversation offered `tools`, continue it with `content`; the stored reply."""
    conversation = api.post("/conversations/", json={"title": "Clock", "tools": tools}).json()
    response = api.post(f"/conversations/{conversation['id']}/continue/", json={"content": content})
    assert response.status_code == 200, response.text
    reply = response.json()["messages"][-1]
    return api.get(f"/messages/{reply['id']}/").json()


def items(reply, kind):
    return [item for item in reply["content"] if item["type"] == kind]


def test_a_reply_calls_the_time_server_and_answers_with_its_output(api, fake_openai, mcp_servers):
    mcp_servers(time=time_server())
    fake_openai.reply(tool_calls=[("call_1", "time__convert_time", json.dumps(TOKYO))])
    fake_openai.reply(text="Noon in UTC is 21:00 in Tokyo.")

    reply = ask(api, "What is noon UTC in Tokyo?", [{"type": "function", "name": "time__*"}])

    assert reply["status"] == "completed"
    [call] = items(reply, "function_call")
    [output] = items(reply, "function_call_output")
    assert (call["name"], call["server"], call["call_id"]) == (
        "time__convert_time",
        "time",
        "call_1",
    )
    assert json.loads(call["arguments"]) == TOKYO
    assert output["server"] == "time"
    assert "is_error" not in output
    assert json.loads(output["output"])["time_difference"] == "+9.0h"
    assert items(reply, "output_text")[0]["text"] == "Noon in UTC is 21:00 in Tokyo."
    second = fake_openai.model_requests()[1].body["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": "call_1", "content": output["output"]}


def test_a_tool_error_is_stored_as_failed_and_the_reply_completes(api, fake_openai, mcp_servers):
    mcp_servers(time=time_server())
    arguments = json.dumps({"timezone": "Mars/Olympus"})
    fake_openai.reply(tool_calls=[("call_1", "time__get_current_time", arguments)])
    fake_openai.reply(text="Mars has no time zone here.")

    reply = ask(api, "Time on Mars?", [{"type": "function", "name": "time__get_current_time"}])

    assert reply["status"] == "completed"
    [output] = items(reply, "function_call_output")
    assert (output["server"], output["is_error"]) == ("time", True)
    assert "Invalid timezone" in output["output"]


def test_a_server_that_cannot_start_leaves_chatting_as_it_was(api, fake_openai, mcp_servers):
    mcp_servers(gone={"command": "/nonexistent/mcp-server", "default": True})
    fake_openai.reply(text="Hello without tools.")

    reply = ask(api, "Hi", [{"type": "function", "name": "gone__*"}])

    assert reply["status"] == "completed"
    assert items(reply, "output_text")[0]["text"] == "Hello without tools."
    assert "tools" not in fake_openai.model_requests()[0].body

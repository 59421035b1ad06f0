"""MCP servers' tools through `/api/chat`: the real time server's calls stream as dynamic
tools, a failed call as `tool-output-error`, and read back as `output-error` parts."""

import json

import httpx

from conversations import services
from tests.aisdk.conftest import AI5_CHUNK_FIELDS, user_message
from tests.mcp.test_hub import TOKYO
from tests.mcp_servers import time_server


def test_mcp_calls_stream_as_dynamic_tools_and_a_failed_one_as_an_output_error(
    fake_openai, chat, mcp_servers, server_url, alice, alice_token
):
    mcp_servers(time=time_server())
    conversation = services.conversation_create(owner=alice, tools=["time__*"])
    bad_zone = json.dumps({"timezone": "Mars/Olympus"})
    fake_openai.reply(
        tool_calls=[
            ("call_1", "time__convert_time", json.dumps(TOKYO)),
            ("call_2", "time__get_current_time", bad_zone),
        ]
    )
    fake_openai.reply("21:00 in Tokyo; no time on Mars.")

    stream = chat(
        {
            "id": str(conversation.id),
            "messages": [user_message("u1", "Noon UTC in Tokyo, and on Mars?")],
            "trigger": "submit-message",
        }
    )

    for chunk in stream.chunks:
        assert set(chunk) - {"type"} <= AI5_CHUNK_FIELDS[chunk["type"]], chunk
    outputs = {c["toolCallId"]: c for c in stream.chunks if c["type"].startswith("tool-output")}
    assert outputs["call_1"]["type"] == "tool-output-available"
    assert outputs["call_1"]["output"]["time_difference"] == "+9.0h"
    assert outputs["call_2"]["type"] == "tool-output-error"
    assert "Invalid timezone" in outputs["call_2"]["errorText"]
    assert stream.text() == "21:00 in Tokyo; no time on Mars."

    response = httpx.get(
        f"{server_url}/api/chat/{conversation.id}",
        headers={"Authorization": f"Token {alice_token}"},
    )
    parts = [p for p in response.json()["messages"][-1]["parts"] if p["type"] == "dynamic-tool"]
    assert [(p["toolName"], p["state"]) for p in parts] == [
        ("time__convert_time", "output-available"),
        ("time__get_current_time", "output-error"),
    ]
    assert "Invalid timezone" in parts[1]["errorText"]

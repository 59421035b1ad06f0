"""Tool cards of MCP servers' tools in the chat page: which server ran the call, and a
failed call shown as failed (Chromium, live server, the real time server over stdio)."""

import json

from playwright.sync_api import expect

from conversations import services
from tests.browser.test_chat_ui import REPLY, send
from tests.mcp.test_hub import TOKYO
from tests.mcp_servers import time_server


def test_tool_cards_show_the_mcp_server_and_a_failed_call(
    login, alice, server_url, fake_openai, mcp_servers
):
    mcp_servers(time=time_server())
    conversation = services.conversation_create(
        owner=alice, title="Clock", tools=[{"type": "function", "name": "time__*"}]
    )
    bad_zone = json.dumps({"timezone": "Mars/Olympus"})
    fake_openai.reply(
        tool_calls=[
            ("call_1", "time__convert_time", json.dumps(TOKYO)),
            ("call_2", "time__get_current_time", bad_zone),
        ]
    )
    fake_openai.reply(text="It is 21:00 in Tokyo; Mars has no time zone.")
    page = login(alice, "alice-password")
    page.goto(f"{server_url}/c/{conversation.id}/")

    send(page, "Noon UTC in Tokyo, and the time on Mars?")

    reply = page.locator(REPLY)
    expect(reply).to_contain_text("It is 21:00 in Tokyo", timeout=20000)
    cards = reply.locator(".function-call")
    expect(cards).to_have_count(4)
    expect(cards.nth(0)).to_contain_text("Called time__convert_time · MCP server time")
    expect(cards.nth(2)).to_contain_text("Result · MCP server time")
    expect(cards.nth(2)).to_contain_text('"time_difference": "+9.0h"')
    expect(cards.nth(3)).to_have_class("function-call failed")
    expect(cards.nth(3)).to_contain_text("Failed · MCP server time")
    expect(cards.nth(3)).to_contain_text("Invalid timezone")

"""The process's MCP sessions against real servers: mcp-server-time over stdio and over
streamable HTTP, and servers that are missing, silent, failing, hanging or crashing."""

import json
import logging

from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent

from conversations.mcp import hub
from conversations.mcp.hub import ToolResult, result_output
from tests.mcp_servers import misbehaving_server, silent_server, time_server

TOKYO = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}


def tool(name):
    return next(tool for tool in hub.tools() if tool.function == name)


async def test_the_time_server_over_stdio_lists_its_tools_and_answers_them(mcp_servers):
    status = mcp_servers(time=time_server())["time"]

    assert status.state == "ready"
    assert status.last_success_at is not None
    assert {t.function for t in status.tools} == {"time__get_current_time", "time__convert_time"}
    convert = tool("time__convert_time")
    assert convert.name == "convert_time"
    assert convert.parameters["required"] == ["source_timezone", "time", "target_timezone"]

    result = await hub.call(convert, TOKYO)

    assert not result.is_error
    assert json.loads(result.output)["time_difference"] == "+9.0h"


async def test_the_time_server_over_streamable_http_answers_the_same(mcp_servers, time_http_url):
    status = mcp_servers(clock={"url": time_http_url, "headers": {"X-Test": "1"}})["clock"]

    assert status.state == "ready", status.last_error
    assert status.transport == "http"
    result = await hub.call(tool("clock__convert_time"), TOKYO)

    assert json.loads(result.output)["time_difference"] == "+9.0h"


def test_a_server_whose_command_does_not_exist_offers_nothing_and_says_why(mcp_servers, caplog):
    with caplog.at_level(logging.WARNING, logger="conversations.mcp.hub"):
        statuses = mcp_servers(time=time_server(), gone={"command": "/nonexistent/mcp-server"})

    assert statuses["gone"].state == "failed"
    assert "No such file" in statuses["gone"].last_error
    assert statuses["gone"].last_error_at is not None
    assert statuses["gone"].last_success_at is None
    assert {t.server for t in hub.tools()} == {"time"}
    assert "MCP server 'gone' failed" in caplog.text


def test_a_server_that_never_answers_fails_after_the_connect_timeout(mcp_servers, settings):
    settings.MCP_CONNECT_TIMEOUT = 1
    statuses = mcp_servers(silent=silent_server())

    assert statuses["silent"].state == "failed"
    assert statuses["silent"].last_error == "it did not answer in time"
    assert hub.tools() == []


async def test_a_tool_error_is_an_error_output(mcp_servers):
    mcp_servers(time=time_server(), odd=misbehaving_server())

    bad_zone = await hub.call(tool("time__get_current_time"), {"timezone": "Mars/Olympus"})
    raised = await hub.call(tool("odd__fail"), {})

    assert bad_zone.is_error
    assert "Invalid timezone" in bad_zone.output
    assert raised.is_error
    assert raised.output.startswith("Error")


async def test_a_protocol_error_is_an_error_output(mcp_servers):
    mcp_servers(time=time_server())
    convert = tool("time__convert_time")

    unknown = await hub.call(type(convert)("time", "nope", "time__nope", "", {}), {})

    assert unknown.is_error
    assert "Unknown tool: nope" in unknown.output


async def test_a_tool_that_hangs_past_the_timeout_is_an_error_and_the_session_goes_on(
    mcp_servers, settings
):
    mcp_servers(odd=misbehaving_server())
    settings.MCP_TOOL_TIMEOUT = 1

    hung = await hub.call(tool("odd__hang"), {})
    echoed = await hub.call(tool("odd__echo"), {"text": "still here"})

    assert hung.is_error
    assert "did not answer within 1 seconds" in hung.output
    assert (echoed.output, echoed.is_error) == ("still here", False)


async def test_a_server_that_crashes_is_started_again(mcp_servers):
    mcp_servers(odd=misbehaving_server())

    crashed = await hub.call(tool("odd__crash"), {})
    hub.refresh_now()
    echoed = await hub.call(tool("odd__echo"), {"text": "back"})

    assert crashed.is_error
    assert "stopped" in crashed.output
    assert echoed.output == "back"
    assert hub.statuses()[0].state == "ready"


def test_a_disabled_entry_is_not_started(mcp_servers):
    statuses = mcp_servers(time=time_server(disabled=True), odd=misbehaving_server())

    assert list(statuses) == ["odd"]


def test_a_result_reads_as_its_text_else_its_structured_content_else_its_blocks_named():
    text = TextContent(type="text", text="21:00")
    image = ImageContent(type="image", data="aGk=", mime_type="image/png")
    link = ResourceLink(type="resource_link", uri="file:///notes.txt", name="notes")

    assert result_output(CallToolResult(content=[text, image])) == ToolResult("21:00")
    structured = CallToolResult(content=[image], structured_content={"hour": 21})
    assert result_output(structured) == ToolResult('{"hour": 21}')
    blocks = CallToolResult(content=[image, link])
    assert result_output(blocks).output == "[image: image/png]\n[resource: file:///notes.txt]"
    failed = CallToolResult(content=[TextContent(type="text", text="no such zone")], is_error=True)
    assert result_output(failed) == ToolResult("Error: no such zone", is_error=True)

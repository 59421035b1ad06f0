"""`MCP_SERVERS` entries in the `mcpServers` shape, and the names tools are offered as."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from chatproject.settings import env_json_object
from conversations.mcp.config import (
    HTTP,
    STDIO,
    ServerConfig,
    env_servers,
    function_name,
    server_from_entry,
)


def test_a_command_entry_is_a_stdio_server():
    entry = {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}, "default": True}

    assert server_from_entry("time", entry) == ServerConfig(
        "time", STDIO, command="uvx", args=("mcp-server-time",), env={"TZ": "UTC"}, default=True
    )


@pytest.mark.parametrize("kind", [None, "http", "streamable-http", "streamableHttp"])
def test_a_url_entry_is_a_streamable_http_server(kind):
    entry = {"url": "https://tools.example/mcp", "headers": {"Authorization": "Bearer x"}}
    if kind:
        entry["type"] = kind

    server = server_from_entry("remote", entry)

    assert (server.transport, server.url) == (HTTP, "https://tools.example/mcp")
    assert server.headers == {"Authorization": "Bearer x"}


@pytest.mark.parametrize(
    ("name", "entry", "error"),
    [
        ("bad name", {"command": "x"}, "must be 1 to 32 letters"),
        ("a" * 33, {"command": "x"}, "must be 1 to 32 letters"),
        ("s", {"url": "https://x/sse", "type": "sse"}, "transport 'sse' is not supported"),
        ("s", {"args": ["x"]}, "a stdio server needs a command"),
        ("s", {"command": "x", "args": "y"}, "args must be a list of strings"),
        ("s", {"command": "x", "env": {"A": 1}}, "env must be an object of strings"),
        ("s", {"url": "ftp://x"}, "needs an http:// or https:// url"),
        ("s", {"command": "x", "default": "yes"}, "default must be true or false"),
    ],
)
def test_a_wrong_entry_says_what_is_wrong(name, entry, error):
    with pytest.raises(ValueError, match=error):
        server_from_entry(name, entry)


def test_mcp_servers_may_hold_the_mcpservers_key_or_be_it(settings):
    settings.MCP_SERVERS = {"mcpServers": {"a": {"command": "x"}, "b": {"url": "ftp://x"}}}
    servers, errors = env_servers()
    assert [server.name for server in servers] == ["a"]
    assert errors == ["b: an HTTP server needs an http:// or https:// url"]

    settings.MCP_SERVERS = {"a": {"command": "x"}, "off": {"command": "x", "disabled": True}}
    assert [server.name for server in env_servers()[0]] == ["a"]


def test_manage_py_check_reports_a_wrong_entry(settings):
    settings.MCP_SERVERS = {"b": {"url": "ftp://x"}}

    with pytest.raises(SystemCheckError, match="MCP_SERVERS: b: an HTTP server needs"):
        call_command("check")


def test_tool_names_are_safe_short_and_distinct():
    assert function_name("time", "convert_time") == "time__convert_time"
    assert function_name("fs", "read.file/v2") == "fs__read_file_v2"
    long = function_name("server", "x" * 100)
    assert len(long) == 64
    assert long != function_name("server", "x" * 99)
    taken = {"fs__a_b"}
    assert function_name("fs", "a.b", taken=taken) not in taken
    assert len(function_name("fs", "a.b", taken=taken)) <= 64


def test_mcp_servers_that_is_not_a_json_object_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("MCP_SERVERS", '{"time": ')
    with pytest.raises(ImproperlyConfigured, match="MCP_SERVERS must be a JSON object"):
        env_json_object("MCP_SERVERS")
    monkeypatch.setenv("MCP_SERVERS", '["time"]')
    with pytest.raises(ImproperlyConfigured, match="MCP_SERVERS must be a JSON object"):
        env_json_object("MCP_SERVERS")
    monkeypatch.setenv("MCP_SERVERS", " ")
    assert env_json_object("MCP_SERVERS") == {}

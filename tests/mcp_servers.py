"""MCP servers for tests: the real `mcp-server-time` (over stdio, and over streamable
HTTP on loopback: fixture `time_http_url`) and `mcp/misbehaving_server.py`, configured
through `MCP_SERVERS` (fixture `mcp_servers`)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conversations.mcp import hub
from tests.conftest import free_port

# A stdio server gets only an allow-listed environment (PATH, HOME...): the interpreter's
# search path is passed on, so that the servers import what this process imports.
CHILD_ENV = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
MISBEHAVING = str(Path(__file__).parent / "mcp" / "misbehaving_server.py")


def time_server(**entry) -> dict:
    """An `mcpServers` entry running mcp-server-time over stdio."""
    args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]
    return {"command": sys.executable, "args": args, "env": CHILD_ENV, **entry}


def misbehaving_server(**entry) -> dict:
    """An `mcpServers` entry running tests/mcp/misbehaving_server.py over stdio."""
    return {"command": sys.executable, "args": [MISBEHAVING], "env": CHILD_ENV, **entry}


def silent_server(**entry) -> dict:
    """A process that starts and never says a word: a server that hangs."""
    return {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"], **entry}


@pytest.fixture
def mcp_servers(settings, db):
    """`mcp_servers(name=entry, ...)` sets MCP_SERVERS and waits for the process's MCP
    hub to list their tools; the hub stops after the test, its servers with it."""
    settings.MCP_CONNECT_TIMEOUT = 10
    settings.MCP_TOOL_TIMEOUT = 10

    def configure(**servers):
        settings.MCP_SERVERS = {"mcpServers": servers}
        hub.refresh_now()
        return {status.name: status for status in hub.statuses()}

    yield configure
    hub.stop()


@pytest.fixture(scope="session")
def time_http_url():
    """mcp-server-time served over streamable HTTP on loopback, by the mcp SDK's server."""
    port = free_port()
    code = (
        "import sys; from mcp_server_time.server import create_server; "
        "create_server('UTC').run(transport='streamable-http', host='127.0.0.1', "
        "port=int(sys.argv[1]))"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("mcp-server-time did not start over HTTP") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    server.terminate()
    server.wait(timeout=10)

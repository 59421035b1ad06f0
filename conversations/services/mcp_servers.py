"""MCP servers added at run time (the admin's): store one, delete one, and have this
process's sessions follow (other processes follow at their next refresh)."""

import logging

from django.db import transaction

from ..db import release_connection
from ..errors import InvalidMcpServer
from ..mcp import hub
from ..mcp.config import env_servers, server_from_entry
from ..models import McpServer

logger = logging.getLogger(__name__)


def mcp_server_validate(*, server: McpServer) -> None:
    """Raise InvalidMcpServer when `server` could not be started as it stands, or when an
    `MCP_SERVERS` entry has its name."""
    if server.name in {config.name for config in env_servers()[0]}:
        raise InvalidMcpServer(f"MCP_SERVERS already has a server named {server.name!r}.")
    if not isinstance(server.args, list):
        raise InvalidMcpServer("args must be a list of strings.")
    entry = {"type": server.transport, "env": server.env, "headers": server.headers}
    if server.transport == McpServer.Transport.STDIO:
        entry.update(command=server.command, args=server.args)
    else:
        entry["url"] = server.url
    try:
        server_from_entry(server.name, entry, source="admin")
    except ValueError as exc:
        raise InvalidMcpServer(str(exc).removeprefix(f"{server.name}: ")) from None


@transaction.atomic
def mcp_server_save(
    *, server: McpServer, env: dict | None = None, headers: dict | None = None
) -> McpServer:
    """Store `server` (new or changed). `env` and `headers` replace its secrets; None keeps
    those stored. This process opens it (again) once stored."""
    if env is not None:
        server.env = env
    if headers is not None:
        server.headers = headers
    if server.transport == McpServer.Transport.STDIO:
        server.url, server.headers = "", {}
    else:
        server.command, server.args, server.env = "", [], {}
    mcp_server_validate(server=server)
    server.save()
    transaction.on_commit(mcp_servers_refresh)
    return server


@transaction.atomic
def mcp_server_delete(*, server: McpServer) -> None:
    """Remove `server`; this process closes its session."""
    server.delete()
    transaction.on_commit(mcp_servers_refresh)


def mcp_servers_refresh() -> None:
    """Read the servers again and list every server's tools anew, in this process, waiting
    (a bounded time) for the result."""
    release_connection()  # the wait holds no database connection
    try:
        hub.refresh_now()
    except TimeoutError:
        logger.warning("Refreshing the MCP servers took too long; it goes on in the background")

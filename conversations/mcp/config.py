"""MCP tool servers as configured, whichever way: `MCP_SERVERS` (the `mcpServers` JSON
shape other hosts use) and the admin's `McpServer` rows, both read into `ServerConfig`;
and the names their tools are offered to a model as."""

import hashlib
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core import checks

STDIO = "stdio"
HTTP = "http"
# `type`/`transport` values other hosts write for each transport.
TRANSPORT_NAMES = {
    "stdio": STDIO,
    "http": HTTP,
    "streamable-http": HTTP,
    "streamable_http": HTTP,
    "streamableHttp": HTTP,
}
# Server names: short enough to leave a tool name room within OpenAI's 64 characters.
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SEPARATOR = "__"
MAX_FUNCTION_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class ServerConfig:
    """One MCP server: a command run over stdio, or a streamable HTTP URL."""

    name: str
    transport: str
    command: str = ""
    args: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)
    url: str = ""
    headers: dict = field(default_factory=dict)
    default: bool = False  # its tools are offered to every conversation
    source: str = "MCP_SERVERS"  # or "admin"


def _strings(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ValueError(f"{what} must be an object of strings")
    return dict(value)


def server_from_entry(name, entry, *, source: str = "MCP_SERVERS") -> ServerConfig:
    """The server an `mcpServers` entry describes; ValueError says what is wrong."""
    if not isinstance(name, str) or not SERVER_NAME.match(name):
        raise ValueError(
            f"server name {name!r} must be 1 to 32 letters, digits, '_' or '-' "
            "(it prefixes the tool names the model sees)"
        )
    if not isinstance(entry, dict):
        raise ValueError(f"{name}: the entry must be an object")
    kind = entry.get("type") or entry.get("transport")
    if kind is None:
        kind = HTTP if "url" in entry else STDIO
    if kind not in TRANSPORT_NAMES:
        raise ValueError(
            f"{name}: transport {kind!r} is not supported (use stdio or streamable HTTP)"
        )
    transport = TRANSPORT_NAMES[kind]
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise ValueError(f"{name}: default must be true or false")
    if transport == STDIO:
        command, args = entry.get("command"), entry.get("args", [])
        if not isinstance(command, str) or not command:
            raise ValueError(f"{name}: a stdio server needs a command")
        if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
            raise ValueError(f"{name}: args must be a list of strings")
        return ServerConfig(
            name,
            STDIO,
            command=command,
            args=tuple(args),
            env=_strings(entry.get("env"), f"{name}: env"),
            default=default,
            source=source,
        )
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"{name}: an HTTP server needs an http:// or https:// url")
    return ServerConfig(
        name,
        HTTP,
        url=url,
        headers=_strings(entry.get("headers"), f"{name}: headers"),
        default=default,
        source=source,
    )


def _enabled(entry) -> bool:
    # Claude Desktop and Cline write `"disabled": true`; `"enabled": false` reads as well.
    return isinstance(entry, dict) and not entry.get("disabled") and entry.get("enabled", True)


def env_servers() -> tuple[list[ServerConfig], list[str]]:
    """The enabled servers of `MCP_SERVERS` and the errors of the entries left out. The
    setting may be the `mcpServers` object itself or a document holding it."""
    entries = settings.MCP_SERVERS
    if isinstance(entries.get("mcpServers"), dict):
        entries = entries["mcpServers"]
    servers, errors = [], []
    for name, entry in entries.items():
        if not _enabled(entry):
            continue
        try:
            servers.append(server_from_entry(name, entry))
        except ValueError as exc:
            errors.append(str(exc))
    return servers, errors


def admin_servers() -> list[ServerConfig]:
    """The enabled servers added in the admin (a database read)."""
    from ..models import McpServer

    return [
        server_from_entry(
            server.name,
            {
                "type": server.transport,
                "command": server.command,
                "args": server.args,
                "env": server.env,
                "url": server.url,
                "headers": server.headers,
                "default": server.offered_by_default,
            },
            source="admin",
        )
        for server in McpServer.objects.filter(enabled=True).order_by("name")
    ]


def check_mcp_servers(app_configs=None, **kwargs) -> list[checks.Error]:
    """System check: every `MCP_SERVERS` entry describes a server."""
    return [
        checks.Error(f"MCP_SERVERS: {error}", id="conversations.E002") for error in env_servers()[1]
    ]


def function_name(server: str, tool: str, *, taken=()) -> str:
    """The name a server's tool is offered as: `<server>__<tool>`, other characters than
    OpenAI allows made `_`, cut to 64 with a hash of the original when longer or when
    another tool already took the name."""
    original = f"{server}{SEPARATOR}{tool}"
    name = _UNSAFE.sub("_", original)
    if len(name) > MAX_FUNCTION_NAME or name in taken:
        digest = hashlib.sha256(original.encode()).hexdigest()[:8]
        name = f"{name[: MAX_FUNCTION_NAME - 9]}_{digest}"
    return name

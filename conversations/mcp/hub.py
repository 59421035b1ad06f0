"""The process's MCP sessions: one long-lived session per configured server, on an event
loop of their own.

The `Hub` runs a thread with its own event loop, started on first use (or by the ASGI
lifespan). Each server has a `Connection` task there that opens the session (a child
process over stdio, or streamable HTTP), lists its tools, and keeps the session until
the server is removed or fails; a server that cannot start, crashes or hangs is only
marked failed (its tools are not offered) and retried on the next refresh (a session
that worked, then broke, is opened again at once). Replies run on
other event loops (the server's, a test's): they read the tool lists, which are plain
data, and hand calls to the hub's loop. Every refresh (each `MCP_REFRESH_INTERVAL`, or on
demand from the admin) reads the configuration again and lists every server's tools anew.
"""

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

import httpx2
from django.conf import settings
from django.utils import timezone
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED

from ..db import run_step
from .config import HTTP, ServerConfig, admin_servers, env_servers, function_name

logger = logging.getLogger(__name__)

# Longest tool output sent to the model and stored, in characters.
MAX_OUTPUT_CHARS = 100_000
# Seconds before a session that broke is opened again.
RECONNECT_DELAY = 0.5


class ToolUnavailable(Exception):
    """The tool's server has no session (it failed, or was removed)."""


@dataclass(frozen=True)
class McpTool:
    """A tool one server listed, as offered to a model."""

    server: str
    name: str  # the server's name for it
    function: str  # the name the model calls it by: <server>__<tool>
    description: str
    parameters: dict

    def spec(self) -> dict:
        """The tool as offered to a provider (Responses' flat shape). Not strict: MCP
        schemas use `$ref`, optional properties and open objects, which strict refuses."""
        return {
            "type": "function",
            "name": self.function,
            "description": self.description,
            "parameters": self.parameters,
            "strict": False,
        }


@dataclass
class ServerStatus:
    """What the admin shows of a server, as this process sees it."""

    name: str
    source: str
    transport: str
    default: bool
    state: str = "starting"  # starting, ready or failed
    tools: tuple[McpTool, ...] = ()
    last_error: str = ""
    last_error_at: datetime | None = None
    last_success_at: datetime | None = None


@dataclass
class ToolResult:
    output: str
    is_error: bool = False


def result_output(result) -> ToolResult:
    """A `CallToolResult` as the text the model reads: its text blocks, else its
    structured content as JSON; other blocks are named. An error result reads `Error:`."""
    texts, others = [], []
    for block in result.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type in ("image", "audio"):
            others.append(f"[{block.type}: {block.mime_type}]")
        elif block.type == "resource_link":
            others.append(f"[resource: {block.uri}]")
        elif block.type == "resource":
            resource = block.resource
            others.append(getattr(resource, "text", None) or f"[resource: {resource.uri}]")
    if texts:
        output = "\n".join(texts)
    elif result.structured_content is not None:
        output = json.dumps(result.structured_content, ensure_ascii=False)
    else:
        output = "\n".join(others)
    if len(output) > MAX_OUTPUT_CHARS:
        output = output[:MAX_OUTPUT_CHARS] + "\n[output cut]"
    if result.is_error:
        if not output.startswith("Error"):
            output = f"Error: {output or 'the tool failed.'}"
        return ToolResult(output, is_error=True)
    return ToolResult(output)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "it did not answer in time"
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_error_text(inner) for inner in exc.exceptions)
    return str(exc) or type(exc).__name__


class Connection:
    """One server's session, opened and kept by its own task on the hub's loop."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.status = ServerStatus(config.name, config.source, config.transport, config.default)
        self.client: Client | None = None
        self.wake = asyncio.Event()  # list the tools again (reconnect when it failed)
        self.waiters: list[asyncio.Future] = []  # refreshes waiting for the next listing
        self.closing = False
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def open(self, stack: contextlib.AsyncExitStack) -> Client:
        if self.config.transport == HTTP:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=self.config.headers,
                    timeout=httpx2.Timeout(30, read=300),
                    follow_redirects=True,
                )
            )
            server = streamable_http_client(self.config.url, http_client=http)
        else:
            server = StdioServerParameters(
                command=self.config.command, args=list(self.config.args), env=self.config.env
            )
        return await stack.enter_async_context(Client(server))

    async def list_tools(self, client: Client) -> None:
        tools, cursor = [], None
        while True:
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        taken = set()
        listed = []
        for tool in tools:
            name = function_name(self.config.name, tool.name, taken=taken)
            taken.add(name)
            listed.append(
                McpTool(
                    server=self.config.name,
                    name=tool.name,
                    function=name,
                    description=tool.description or tool.title or "",
                    parameters=tool.input_schema or {"type": "object", "properties": {}},
                )
            )
        self.status.tools = tuple(listed)
        self.status.state = "ready"
        self.status.last_success_at = timezone.now()

    def failed(self, exc: BaseException) -> None:
        error = _error_text(exc)
        if (self.status.state, self.status.last_error) != ("failed", error):
            # Said when it starts failing (or fails otherwise), not at every retry.
            logger.warning(
                "MCP server %r failed; its tools are not offered: %s", self.config.name, error
            )
        self.client = None
        self.status.state = "failed"
        self.status.tools = ()
        self.status.last_error = error
        self.status.last_error_at = timezone.now()

    def settle(self) -> None:
        """Answer the refreshes waiting for this listing."""
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def run(self) -> None:
        timeout = settings.MCP_CONNECT_TIMEOUT
        while not self.closing:
            self.wake.clear()
            established = False
            try:
                async with contextlib.AsyncExitStack() as stack:
                    async with asyncio.timeout(timeout):
                        client = await self.open(stack)
                        await self.list_tools(client)
                    self.client = client
                    established = True
                    self.settle()
                    while True:
                        await self.wake.wait()
                        self.wake.clear()
                        async with asyncio.timeout(timeout):
                            await self.list_tools(client)
                        self.settle()
            except Exception as exc:  # a server's failure is its own, never the hub's
                if self.closing:
                    break
                self.failed(exc)
            if established:
                # A session that worked (then crashed or dropped) is opened again at once
                # (or nearly: one that keeps crashing must not spin); waiting refreshes
                # hear how that went.
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            self.settle()
            await self.wake.wait()  # tried again on the next refresh

    async def listed(self, *, again: bool = True) -> None:
        """Wait for the next listing of the tools, asking for one when `again` (otherwise
        the first, which a new connection makes by itself); a failed session is opened
        again first."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        if again:
            self.wake.set()
        await waiter

    async def call(self, tool: str, arguments: dict) -> ToolResult:
        client = self.client
        if client is None:
            raise ToolUnavailable(f"the MCP server {self.config.name!r} is not available")
        try:
            async with asyncio.timeout(settings.MCP_TOOL_TIMEOUT):
                result = await client.call_tool(tool, arguments)
        except TimeoutError:
            return ToolResult(
                f"Error: the tool {tool!r} of {self.config.name!r} did not answer within "
                f"{settings.MCP_TOOL_TIMEOUT:g} seconds.",
                is_error=True,
            )
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:  # unknown tool, bad arguments: the server said no
                return ToolResult(f"Error: {exc}", is_error=True)
            self.wake.set()
            raise ToolUnavailable(f"the MCP server {self.config.name!r} stopped") from exc
        except Exception as exc:
            # The session broke (the process died, the connection dropped): the listing
            # that this wakes finds it out and opens it again.
            self.wake.set()
            raise ToolUnavailable(
                f"the MCP server {self.config.name!r} failed: {_error_text(exc)}"
            ) from exc
        return result_output(result)

    async def close(self) -> None:
        self.closing = True
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.settle()


@dataclass
class Hub:
    """The process-wide MCP sessions and tool lists (see the module's docstring)."""

    connections: dict[str, Connection] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    ready: concurrent.futures.Future | None = None  # done once every server tried once
    lock: threading.Lock = field(default_factory=threading.Lock)
    timer: asyncio.Task | None = None
    refreshing: asyncio.Lock | None = None
    reload_errors: tuple[str, ...] = ()

    def start(self) -> None:
        """Start the hub's thread and first refresh, unless running."""
        with self.lock:
            if self.thread is not None:
                return
            self.loop = asyncio.new_event_loop()
            self.ready = concurrent.futures.Future()
            self.thread = threading.Thread(target=self._serve, name="mcp-hub", daemon=True)
            self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.refreshing = asyncio.Lock()
        self.timer = self.loop.create_task(self._refresh_periodically())
        self.loop.run_forever()

    async def _refresh_periodically(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # the timer must outlive any one refresh
                logger.exception("Refreshing the MCP servers failed")
            if not self.ready.done():
                self.ready.set_result(None)
            await asyncio.sleep(settings.MCP_REFRESH_INTERVAL)

    def submit(self, coroutine) -> concurrent.futures.Future:
        """Run `coroutine` on the hub's loop (started if need be)."""
        self.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def refresh(self) -> None:
        """Read the configuration again: open new servers, close removed or changed ones,
        and list every server's tools anew. On the hub's loop, one refresh at a time."""
        async with self.refreshing:
            await self._refresh()

    async def _refresh(self) -> None:
        configs, errors = env_servers()
        try:
            names = {config.name for config in configs}
            configs += [
                config for config in await run_step(admin_servers) if config.name not in names
            ]
        except Exception:
            # The database may be away; the servers it listed before stay as they were.
            logger.warning("Reading the MCP servers of the admin failed", exc_info=True)
            configs += [c.config for c in self.connections.values() if c.config.source == "admin"]
        self.reload_errors = tuple(errors)
        for error in errors:
            logger.warning("MCP_SERVERS: %s", error)
        wanted = {config.name: config for config in configs}
        for name, connection in list(self.connections.items()):
            if wanted.get(name) != connection.config:
                del self.connections[name]
                await connection.close()
        waiting = []
        for name, config in wanted.items():
            connection = self.connections.get(name)
            if connection is None:
                connection = self.connections[name] = Connection(config)
                waiting.append(connection.listed(again=False))
            else:
                waiting.append(connection.listed())
        await asyncio.gather(*waiting)

    def refresh_now(self) -> None:
        """Refresh from synchronous code (the admin, a test), waiting for the result: a
        hub starting now waits for its first refresh only."""
        starting = self.thread is None
        self.start()
        if starting:
            self.ready.result(settings.MCP_CONNECT_TIMEOUT + 5)
        else:
            self.submit(self.refresh()).result(settings.MCP_CONNECT_TIMEOUT + 5)

    async def wait_ready(self) -> None:
        """Wait (a bounded time) for the first refresh, so that a process's first reply
        is offered the tools it started with."""
        self.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(self.ready)),
                settings.MCP_CONNECT_TIMEOUT + 1,
            )

    def statuses(self) -> list[ServerStatus]:
        """Every configured server's status, by name."""
        # A copy first: the hub's thread may add or remove a server meanwhile.
        connections = list(self.connections.values())
        return sorted((connection.status for connection in connections), key=lambda s: s.name)

    def tools(self) -> list[McpTool]:
        """The tools of every server whose session works."""
        return [
            tool for status in self.statuses() if status.state == "ready" for tool in status.tools
        ]

    async def call(self, tool: McpTool, arguments: dict) -> ToolResult:
        """Run a call on the hub's loop, from any loop; cancelling it cancels the call."""

        async def run():
            connection = self.connections.get(tool.server)
            if connection is None:
                raise ToolUnavailable(f"the MCP server {tool.server!r} is not configured")
            return await connection.call(tool.name, arguments)

        try:
            return await asyncio.wrap_future(self.submit(run()))
        except ToolUnavailable as exc:
            return ToolResult(f"Error: {exc}.", is_error=True)

    def stop(self) -> None:
        """Close every session and stop the thread (a later use starts it again)."""
        with self.lock:
            if self.thread is None:
                return
            loop, thread = self.loop, self.thread

            async def close():
                self.timer.cancel()
                for connection in list(self.connections.values()):
                    await connection.close()
                self.connections.clear()

            try:
                asyncio.run_coroutine_threadsafe(close(), loop).result(30)
            except TimeoutError:
                logger.warning("MCP sessions did not close within 30 seconds")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            loop.close()
            self.thread = self.loop = self.ready = self.timer = None


hub = Hub()

"""The tools of MCP servers in the tool loop: which a reply is offered, and their calls."""

import dataclasses
import json
from dataclasses import dataclass

from ..mcp import McpTool, hub
from ..mcp.config import SEPARATOR
from .base import FunctionCallDone, FunctionCallOutput, FunctionCallStart

# `<server>__*` in a conversation's `tools` offers all of that server's tools.
WILDCARD = SEPARATOR + "*"


@dataclass(frozen=True)
class McpToolset:
    """The MCP tools offered to one reply, by the name the model calls them."""

    tools: dict[str, McpTool]

    def specs(self) -> list[dict]:
        return [tool.spec() for tool in self.tools.values()]

    def __contains__(self, name: str) -> bool:
        return name in self.tools

    def tag(self, event):
        """`event` with its server named, when it starts or ends a call of one of these
        tools: the stored call and the tool card say which server it went to."""
        if isinstance(event, (FunctionCallStart, FunctionCallDone)) and event.name in self.tools:
            return dataclasses.replace(event, server=self.tools[event.name].server)
        return event

    async def run(self, call: FunctionCallDone) -> FunctionCallOutput:
        """Run a call on its server; any failure is an error output the model reads."""
        tool = self.tools[call.name]
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            arguments, problem = None, f"the arguments are not valid JSON ({exc})"
        else:
            problem = "the arguments must be a JSON object"
        if not isinstance(arguments, dict):
            return FunctionCallOutput(
                call.call_id, f"Error: {problem}.", server=tool.server, is_error=True
            )
        result = await hub.call(tool, arguments)
        return FunctionCallOutput(
            call.call_id, result.output, server=tool.server, is_error=result.is_error
        )


async def mcp_toolset(names: list[str], *, exclude: set[str] = frozenset()) -> McpToolset:
    """The MCP tools a conversation is offered: those its `tools` name (`<server>__<tool>`,
    or `<server>__*` for all of a server's), and all those of its default servers; only
    servers whose session works, and none named in `exclude` (the client's own tools)."""
    await hub.wait_ready()
    named = set(names)
    servers = {name.removesuffix(WILDCARD) for name in names if name.endswith(WILDCARD)}
    chosen = {}
    for status in hub.statuses():
        if status.state != "ready":
            continue
        for tool in status.tools:
            wanted = status.default or status.name in servers or tool.function in named
            if wanted and tool.function not in exclude:
                chosen[tool.function] = tool
    return McpToolset(chosen)

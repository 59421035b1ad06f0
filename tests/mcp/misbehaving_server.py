"""A small MCP server written with the real `mcp` SDK, for the failures the time server
never shows: a tool that raises, one that hangs, one that kills the server.

    python tests/mcp/misbehaving_server.py            # stdio
"""

import os

import anyio
from mcp.server import MCPServer

server = MCPServer("misbehaving")


@server.tool(description="Answer with the text given.")
def echo(text: str) -> str:
    return text


@server.tool(description="Always fails.")
def fail(reason: str = "broken on purpose") -> str:
    raise ValueError(reason)


@server.tool(description="Never answers (the server itself stays responsive).")
async def hang() -> str:
    await anyio.sleep(3600)
    return "too late"


@server.tool(description="Ends the server's process.")
def crash() -> str:
    os._exit(1)


if __name__ == "__main__":
    server.run()

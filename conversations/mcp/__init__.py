"""MCP tool servers: their configuration (`config`) and the process's sessions (`hub`).
The tool loop offers and calls their tools through `conversations.llm.mcp_tools`."""

from .config import ServerConfig, check_mcp_servers, function_name
from .hub import McpTool, ServerStatus, ToolResult, hub

__all__ = [
    "McpTool",
    "ServerConfig",
    "ServerStatus",
    "ToolResult",
    "check_mcp_servers",
    "function_name",
    "hub",
]

"""Server-side function tools the model may call, opt-in per conversation by name."""

import ast
import json
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ToolError(Exception):
    """A tool could not run; the message goes back to the model as the tool's output."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict  # JSON schema of the keyword arguments
    function: Callable[..., str]

    def spec(self) -> dict:
        """The tool as offered to a provider (Responses' flat function shape)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


TOOLS: dict[str, Tool] = {}

# The key of a conversation's `context` holding the function specs of the tools its client
# runs (set by the OpenAI-compatible API from a request's `tools`).
CLIENT_TOOLS = "client_tools"


def register(tool: Tool) -> Tool:
    TOOLS[tool.name] = tool
    return tool


def tool_names(tools: list) -> list[str]:
    """Names of the tools a conversation enabled: given as names or as function specs
    (``{"type": "function", "name": ...}`` or Chat Completions' nested ``function``)."""
    names = []
    for tool in tools:
        if isinstance(tool, dict):
            tool = tool.get("name") or (tool.get("function") or {}).get("name")
        if isinstance(tool, str) and tool:
            names.append(tool)
    return names


def tool_specs(names: list[str]) -> list[dict]:
    """Specs of the registered tools among `names`; names no longer registered are skipped."""
    return [TOOLS[name].spec() for name in names if name in TOOLS]


def client_tool_specs(tools: list) -> list[dict]:
    """Specs of tools the client runs itself (the OpenAI-compatible API passes their calls
    back), from function specs in either shape, in Responses' flat shape."""
    specs = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        function = tool["function"] if isinstance(tool.get("function"), dict) else tool
        name = function.get("name")
        if not isinstance(name, str) or not name:
            continue
        spec = {"type": "function", "name": name}
        spec.update(
            {key: function[key] for key in ("description", "parameters") if key in function}
        )
        specs.append(spec)
    return specs


def run_tool(name: str, arguments: str, *, allowed: list[str]) -> str:
    """Run one call; any failure becomes an error text the model reads, never an exception."""
    if name not in allowed or name not in TOOLS:
        return f"Error: there is no tool named {name!r}."
    try:
        kwargs = json.loads(arguments or "{}")
        if not isinstance(kwargs, dict):
            raise ToolError("arguments must be a JSON object")
        return TOOLS[name].function(**kwargs)
    except json.JSONDecodeError as exc:
        return f"Error: the arguments are not valid JSON ({exc})."
    except TypeError as exc:
        return f"Error: wrong arguments for {name} ({exc})."
    except ToolError as exc:
        return f"Error: {exc}"


def current_time(timezone: str = "UTC") -> str:
    """The current date and time in `timezone` (an IANA name), ISO 8601."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(f"unknown time zone {timezone!r}") from exc
    return json.dumps({"timezone": timezone, "now": datetime.now(UTC).astimezone(zone).isoformat()})


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {"sqrt": math.sqrt, "abs": abs, "round": round}
_CONSTANTS = {"pi": math.pi, "e": math.e}
# Bounds so that a request like 9**9**9 cannot pin a CPU or fill memory.
MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 10**100


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError(f"exponents above {MAX_EXPONENT} are not allowed")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, int) and abs(result) > MAX_MAGNITUDE:
            raise ToolError("the result is too large")
        return result
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg) for arg in node.args))
    raise ToolError(f"unsupported expression: {ast.unparse(node)!r}")


def calculate(expression: str) -> str:
    """The value of an arithmetic expression, evaluated from its syntax tree (never eval)."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"expressions are limited to {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {expression!r}") from exc
    try:
        value = _evaluate(tree)
    except (ArithmeticError, ValueError) as exc:
        raise ToolError(f"{expression} cannot be computed ({exc})") from exc
    return json.dumps({"expression": expression, "value": value})


register(
    Tool(
        name="current_time",
        description="The current date and time, in UTC or in a given IANA time zone.",
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA time zone such as Europe/Paris; UTC when omitted.",
                }
            },
            "additionalProperties": False,
        },
        function=current_time,
    )
)
register(
    Tool(
        name="calculate",
        description=(
            "Evaluate an arithmetic expression: numbers, + - * / // % **, parentheses, "
            "sqrt, abs, round, pi, e."
        ),
        parameters={
            "type": "object",
            "properties": {
                "expression": {"type": "string", "description": "For example (2 + 3) * 4.5"}
            },
            "required": ["expression"],
            "additionalProperties": False,
        },
        function=calculate,
    )
)

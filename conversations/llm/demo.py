"""The `demo` provider: offline and deterministic, it shows what the UI can render."""

import asyncio
import json
import re

from django.conf import settings

from .base import (
    Finish,
    FunctionCallArgumentsDelta,
    FunctionCallDone,
    FunctionCallStart,
    Provider,
    ReasoningDelta,
    TextDelta,
    Usage,
)

MODEL_NAME = "demo (canned replies, not a language model)"
TIME_TOOL = "current_time"
ASKS_FOR_TIME = re.compile(r"\b(time|clock|date)\b", re.IGNORECASE)


def _last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return " ".join(
                item.get("text", "") for item in message["content"] if item["type"] == "input_text"
            ).strip()
    return ""


def _tool_outputs(messages: list[dict]) -> list[str]:
    """Outputs of the tool calls in the reply being written (the last message)."""
    if not messages or messages[-1]["role"] != "assistant":
        return []
    return [
        item.get("output", "")
        for item in messages[-1]["content"]
        if item["type"] == "function_call_output"
    ]


def _chunks(text: str, size: int = 12):
    for start in range(0, len(text), size):
        yield text[start : start + size]


def demo_reply(question: str, *, time_without_tool: bool = False) -> str:
    """The markdown reply of the demo model to `question`."""
    quoted = question.replace("\n", " ")[:200] or "(nothing)"
    tip = (
        "You asked about the time: enable the `current_time` tool for this conversation "
        "and I will call it.\n\n"
        if time_without_tool
        else ""
    )
    return (
        f"You said: *{quoted}*\n\n"
        f"{tip}"
        "I am the **demo model**: I answer from a script, offline, so you can try the app "
        "without an API key. Set `OPENAI_API_KEY` (and `OPENAI_BASE_URL` for any "
        "OpenAI-compatible server) to talk to a real model.\n\n"
        "Here is what replies can hold:\n\n"
        "| Feature | Example |\n|---|---|\n| Math | $e^{i\\pi} + 1 = 0$ |\n"
        "| Code | see below |\n\n"
        '```python\ndef greet(name):\n    return f"Hello, {name}!"\n```\n'
    )


def tool_answer(outputs: list[str]) -> str:
    """The demo model's answer once its tool calls have returned."""
    lines = []
    for output in outputs:
        try:
            lines.append(f"It is **{json.loads(output)['now']}**.")
        except (ValueError, KeyError, TypeError):
            lines.append(f"The tool answered: `{output}`")
    return "\n\n".join(lines) + "\n\n(The demo model read this from the `current_time` tool.)\n"


class DemoProvider(Provider):
    name = "demo"

    @classmethod
    def default_model(cls) -> str:
        return MODEL_NAME

    async def _say(self, reasoning: str, text: str):
        delay = settings.DEMO_STREAM_DELAY
        for piece in _chunks(reasoning):
            yield ReasoningDelta(piece)
            await asyncio.sleep(delay)
        for piece in _chunks(text):
            yield TextDelta(piece)
            await asyncio.sleep(delay)

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        question = _last_user_text(messages)
        outputs = _tool_outputs(messages)
        offered = {tool["name"] for tool in tools or []}
        if outputs:
            reply = tool_answer(outputs)
            async for event in self._say("The tool answered; I will report it.", reply):
                yield event
        elif ASKS_FOR_TIME.search(question) and TIME_TOOL in offered:
            async for event in self._say("The user asks for the time: I will call a tool.", ""):
                yield event
            call_id = f"call_demo_{len(messages)}"
            arguments = json.dumps({"timezone": "UTC"})
            yield FunctionCallStart(call_id, TIME_TOOL)
            yield FunctionCallArgumentsDelta(call_id, arguments)
            yield FunctionCallDone(call_id, TIME_TOOL, arguments)
            yield Usage(input_tokens=len(question.split()), output_tokens=len(arguments.split()))
            yield Finish("tool_calls")
            return
        else:
            reply = demo_reply(question, time_without_tool=bool(ASKS_FOR_TIME.search(question)))
            reasoning = "The user wrote something; I will show off the demo features."
            async for event in self._say(reasoning, reply):
                yield event
        yield Usage(input_tokens=len(question.split()), output_tokens=len(reply.split()))
        yield Finish("stop")

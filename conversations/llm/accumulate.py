"""Fold a stream of provider events into the content items of one reply."""

from .base import (
    Annotation,
    Finish,
    FunctionCallArgumentsDelta,
    FunctionCallDone,
    FunctionCallOutput,
    FunctionCallStart,
    ReasoningDelta,
    Refusal,
    TextDelta,
    Usage,
)


def _server(event) -> dict:
    """The `server` field of a tool item of an MCP server's tool (none for the others)."""
    return {"server": event.server} if event.server else {}


class ReplyAccumulator:
    """The reply so far: flat content items in arrival order, usage and finish reason."""

    def __init__(self):
        self.content: list[dict] = []
        self.usage: dict | None = None
        self.finish_reason: str | None = None
        self._calls: dict[str, int] = {}  # call_id -> index of its function_call item

    def _current(self, item_type: str) -> int:
        """Index of the last item when it has `item_type`, else of a new one."""
        if not self.content or self.content[-1]["type"] != item_type:
            item = {"type": item_type}
            if item_type == "output_text":
                item.update(text="", annotations=[])
            elif item_type == "reasoning":
                item["summary"] = [{"type": "summary_text", "text": ""}]
            elif item_type == "refusal":
                item["refusal"] = ""
            self.content.append(item)
        return len(self.content) - 1

    def apply(self, event) -> tuple[int, str, str] | None:
        """Fold in one event; returns (item_index, item_type, delta) for streamed text."""
        if isinstance(event, TextDelta):
            index = self._current("output_text")
            self.content[index]["text"] += event.text
            return index, "output_text", event.text
        if isinstance(event, ReasoningDelta):
            index = self._current("reasoning")
            self.content[index]["summary"][-1]["text"] += event.text
            return index, "reasoning", event.text
        if isinstance(event, Refusal):
            index = self._current("refusal")
            self.content[index]["refusal"] += event.text
            return index, "refusal", event.text
        if isinstance(event, FunctionCallStart):
            self.content.append(
                {"type": "function_call", "call_id": event.call_id, "name": event.name,
                 "arguments": "", **_server(event)}
            )  # fmt: skip
            self._calls[event.call_id] = len(self.content) - 1
            return None
        if isinstance(event, FunctionCallArgumentsDelta):
            index = self._calls.get(event.call_id)
            if index is None:
                return None
            self.content[index]["arguments"] += event.delta
            return index, "function_call", event.delta
        if isinstance(event, FunctionCallDone):
            index = self._calls.get(event.call_id)
            if index is None:
                self.content.append({"type": "function_call", "call_id": event.call_id})
                index = self._calls[event.call_id] = len(self.content) - 1
            # The done event is authoritative over the deltas.
            self.content[index].update(name=event.name, arguments=event.arguments, **_server(event))
            return None
        if isinstance(event, FunctionCallOutput):
            item = {"type": "function_call_output", "call_id": event.call_id}
            item.update(output=event.output, **_server(event))
            if event.is_error:
                item["is_error"] = True
            self.content.append(item)
            return None
        if isinstance(event, Annotation):
            index = self._current("output_text")
            self.content[index]["annotations"].append(event.annotation)
            return None
        if isinstance(event, Usage):
            # A reply with tool calls spans several model turns: their usage adds up.
            usage = self.usage or {"input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0}
            self.usage = {
                "input_tokens": usage["input_tokens"] + event.input_tokens,
                "output_tokens": usage["output_tokens"] + event.output_tokens,
                "reasoning_tokens": usage["reasoning_tokens"] + event.reasoning_tokens,
            }
            return None
        if isinstance(event, Finish):
            self.finish_reason = event.reason
        return None

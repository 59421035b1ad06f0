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


def _text_holder(item: dict) -> dict:
    """The dict whose `text`-like key a streamed item's deltas grow (`_STREAMED_KEYS`)."""
    return item["summary"][-1] if item["type"] == "reasoning" else item


_STREAMED_KEYS = {
    "output_text": "text",
    "reasoning": "text",
    "refusal": "refusal",
    "function_call": "arguments",
}


class ReplyAccumulator:
    """The reply so far: flat content items in arrival order, usage and finish reason.

    Deltas are kept as parts and joined into their item when `content` is read: adding
    each to the text so far would copy the whole text per token, which grows with the
    square of the reply's length (80,000 tokens: seconds of the event loop's time)."""

    def __init__(self):
        self._items: list[dict] = []
        self._parts: dict[int, list[str]] = {}  # item index -> deltas not joined yet
        self.usage: dict | None = None
        self.finish_reason: str | None = None
        self._calls: dict[str, int] = {}  # call_id -> index of its function_call item

    @property
    def content(self) -> list[dict]:
        """The items so far, each with all its text."""
        for index, parts in self._parts.items():
            item = self._items[index]
            holder, key = _text_holder(item), _STREAMED_KEYS[item["type"]]
            holder[key] += "".join(parts)
        self._parts.clear()
        return self._items

    @property
    def item_count(self) -> int:
        return len(self._items)

    def _current(self, item_type: str) -> int:
        """Index of the last item when it has `item_type`, else of a new one."""
        if not self._items or self._items[-1]["type"] != item_type:
            item = {"type": item_type}
            if item_type == "output_text":
                item.update(text="", annotations=[])
            elif item_type == "reasoning":
                item["summary"] = [{"type": "summary_text", "text": ""}]
            elif item_type == "refusal":
                item["refusal"] = ""
            self._items.append(item)
        return len(self._items) - 1

    def _grow(self, index: int, item_type: str, delta: str) -> tuple[int, str, str]:
        self._parts.setdefault(index, []).append(delta)
        return index, item_type, delta

    def apply(self, event) -> tuple[int, str, str] | None:
        """Fold in one event; returns (item_index, item_type, delta) for streamed text."""
        if isinstance(event, TextDelta):
            return self._grow(self._current("output_text"), "output_text", event.text)
        if isinstance(event, ReasoningDelta):
            return self._grow(self._current("reasoning"), "reasoning", event.text)
        if isinstance(event, Refusal):
            return self._grow(self._current("refusal"), "refusal", event.text)
        if isinstance(event, FunctionCallStart):
            self._items.append(
                {"type": "function_call", "call_id": event.call_id, "name": event.name,
                 "arguments": "", **_server(event)}
            )  # fmt: skip
            self._calls[event.call_id] = len(self._items) - 1
            return None
        if isinstance(event, FunctionCallArgumentsDelta):
            index = self._calls.get(event.call_id)
            if index is None:
                return None
            return self._grow(index, "function_call", event.delta)
        if isinstance(event, FunctionCallDone):
            index = self._calls.get(event.call_id)
            if index is None:
                self._items.append({"type": "function_call", "call_id": event.call_id})
                index = self._calls[event.call_id] = len(self._items) - 1
            # The done event is authoritative over the deltas.
            self._parts.pop(index, None)
            self._items[index].update(name=event.name, arguments=event.arguments, **_server(event))
            return None
        if isinstance(event, FunctionCallOutput):
            item = {"type": "function_call_output", "call_id": event.call_id}
            item.update(output=event.output, **_server(event))
            if event.is_error:
                item["is_error"] = True
            self._items.append(item)
            return None
        if isinstance(event, Annotation):
            index = self._current("output_text")
            self._items[index]["annotations"].append(event.annotation)
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

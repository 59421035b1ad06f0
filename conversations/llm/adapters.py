"""Wire formats -> our messages, as pure functions (no I/O); `input.py` goes the other way.

A message here is a dict in our API shape: ``role``, ``status``, ``content`` (flat
content items in the Responses vocabulary). Wire objects may be dicts or the SDK's
pydantic models.
"""

import copy
import heapq


def as_dict(obj) -> dict:
    """A wire object as a new plain dict (SDK models are dumped, dicts deep-copied), so
    that building our messages never changes the caller's objects."""
    if obj is None:
        return {}
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return copy.deepcopy(dict(obj))


def _text_item(text: str, annotations: list | None = None) -> dict:
    return {"type": "output_text", "text": text, "annotations": list(annotations or [])}


def _reasoning_item(texts: list[str]) -> dict:
    return {"type": "reasoning", "summary": [{"type": "summary_text", "text": t} for t in texts]}


def _usage_from_chat(usage: dict | None) -> dict | None:
    if not usage:
        return None
    details = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": usage.get("prompt_tokens") or 0,
        "output_tokens": usage.get("completion_tokens") or 0,
        "reasoning_tokens": details.get("reasoning_tokens") or 0,
    }


def _usage_from_responses(usage: dict | None) -> dict | None:
    if not usage:
        return None
    details = usage.get("output_tokens_details") or {}
    return {
        "input_tokens": usage.get("input_tokens") or 0,
        "output_tokens": usage.get("output_tokens") or 0,
        "reasoning_tokens": details.get("reasoning_tokens") or 0,
    }


# Status of a reply from a Chat Completions finish reason: cut short or filtered is
# `incomplete`, anything else (stop, tool_calls) is done.
_CHAT_STATUS = {"length": "incomplete", "content_filter": "incomplete"}


# Chat Completions -> our messages


def chat_completion_to_message(completion) -> list[dict]:
    """One assistant message per choice of a (whole) chat completion."""
    completion = as_dict(completion)
    usage = _usage_from_chat(completion.get("usage"))
    messages = []
    for choice in completion.get("choices") or []:
        message = as_dict(choice.get("message"))
        content = []
        # Reasoning as OpenAI-compatible servers (vLLM, Ollama, DeepSeek) return it.
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if reasoning:
            content.append(_reasoning_item([reasoning]))
        if message.get("content"):
            content.append(_text_item(message["content"], message.get("annotations")))
        if message.get("refusal"):
            content.append({"type": "refusal", "refusal": message["refusal"]})
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            content.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id") or "",
                    "name": function.get("name") or "",
                    "arguments": function.get("arguments") or "",
                }
            )
        messages.append(
            {
                "id": completion.get("id"),
                "role": "assistant",
                "status": _CHAT_STATUS.get(choice.get("finish_reason"), "completed"),
                "content": content,
                "usage": usage,
            }
        )
    return messages


def _empty_choice() -> dict:
    return {"reasoning": "", "text": "", "refusal": "", "calls": {}, "finish_reason": None}


def streaming_chat_completion_to_message(chunks, state: dict | None = None):
    """Fold chat completion chunks into one message per choice: ``(messages, state)``.

    Choices may interleave; tool-call argument deltas are joined by their ``index``.
    Call again with the next chunks and the returned state to continue.
    """
    state = state or {"id": None, "choices": {}, "usage": None}
    for chunk in chunks:
        chunk = as_dict(chunk)
        state["id"] = state["id"] or chunk.get("id")
        if chunk.get("usage"):
            state["usage"] = _usage_from_chat(chunk["usage"])
        for choice in chunk.get("choices") or []:
            current = state["choices"].setdefault(choice.get("index") or 0, _empty_choice())
            delta = as_dict(choice.get("delta"))
            current["reasoning"] += delta.get("reasoning_content") or delta.get("reasoning") or ""
            current["text"] += delta.get("content") or ""
            current["refusal"] += delta.get("refusal") or ""
            for position, call in enumerate(delta.get("tool_calls") or []):
                # Some servers omit `index` when they send one call per chunk.
                index = call.get("index")
                index = position if index is None else index
                joined = current["calls"].setdefault(index, {"id": "", "name": "", "arguments": ""})
                function = call.get("function") or {}
                joined["id"] = joined["id"] or call.get("id") or ""
                joined["name"] = joined["name"] or function.get("name") or ""
                joined["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                current["finish_reason"] = choice["finish_reason"]
    messages = []
    for _, choice in sorted(state["choices"].items()):
        content = []
        if choice["reasoning"]:
            content.append(_reasoning_item([choice["reasoning"]]))
        if choice["text"]:
            content.append(_text_item(choice["text"]))
        if choice["refusal"]:
            content.append({"type": "refusal", "refusal": choice["refusal"]})
        for _, call in sorted(choice["calls"].items()):
            content.append(
                {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": call["name"],
                    "arguments": call["arguments"],
                }
            )
        finish = choice["finish_reason"]
        status = _CHAT_STATUS.get(finish, "completed") if finish else "in_progress"
        messages.append(
            {
                "id": state["id"],
                "role": "assistant",
                "status": status,
                "content": content,
                "usage": state["usage"],
            }
        )
    return messages, state


# Responses -> our messages


def _output_item_to_content(item: dict) -> list[dict]:
    """Our content items for one Responses output item."""
    kind = item.get("type")
    if kind == "reasoning":
        return [_reasoning_item([part.get("text", "") for part in item.get("summary") or []])]
    if kind == "message":
        content = []
        for part in item.get("content") or []:
            part = as_dict(part)
            if part.get("type") == "output_text":
                content.append(_text_item(part.get("text", ""), part.get("annotations")))
            elif part.get("type") == "refusal":
                content.append({"type": "refusal", "refusal": part.get("refusal", "")})
            else:
                content.append(part)
        return content
    if kind == "function_call":
        return [
            {
                "type": "function_call",
                "call_id": item.get("call_id") or "",
                "name": item.get("name") or "",
                "arguments": item.get("arguments") or "",
            }
        ]
    return [item]  # a type we do not know (a hosted tool call ...): kept untouched


def response_to_message(response) -> dict:
    """The assistant message of a (whole) Responses API response."""
    response = as_dict(response)
    content = []
    for item in response.get("output") or []:
        content += _output_item_to_content(as_dict(item))
    return {
        "id": response.get("id"),
        "role": "assistant",
        "status": response.get("status") or "completed",
        "content": content,
        "usage": _usage_from_responses(response.get("usage")),
    }


def _new_response_state() -> dict:
    # `pending` holds (sequence_number, event) pairs waiting for a gap to fill.
    return {
        "id": None,
        "next": 0,
        "pending": [],
        "seen": set(),
        "items": {},
        "final": None,
        "status": "in_progress",
        "usage": None,
    }


def _apply_response_event(state: dict, event: dict) -> None:
    kind = event.get("type", "")
    items = state["items"]
    index = event.get("output_index")
    if kind in ("response.created", "response.in_progress"):
        state["id"] = (event.get("response") or {}).get("id") or state["id"]
    elif kind in ("response.output_item.added", "response.output_item.done"):
        # `done` carries the finished item: it replaces whatever the deltas built.
        if kind.endswith(".done") or index not in items:
            items[index] = as_dict(event.get("item"))
            if items[index].get("type") == "message":
                items[index]["content"] = [as_dict(p) for p in items[index].get("content") or []]
    elif kind == "response.reasoning_summary_part.added":
        summary = items.setdefault(index, {"type": "reasoning"}).setdefault("summary", [])
        while len(summary) <= event.get("summary_index", 0):
            summary.append({"type": "summary_text", "text": ""})
    elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_summary_text.done"):
        summary = items.setdefault(index, {"type": "reasoning"}).setdefault("summary", [])
        position = event.get("summary_index", 0)
        while len(summary) <= position:
            summary.append({"type": "summary_text", "text": ""})
        if kind.endswith(".done"):
            summary[position]["text"] = event.get("text", "")
        else:
            summary[position]["text"] += event.get("delta", "")
    elif kind.startswith(("response.content_part.", "response.output_text.", "response.refusal.")):
        message = items.setdefault(
            index,
            {"type": "message", "role": "assistant", "content": [], "id": event.get("item_id")},
        )
        parts = message.setdefault("content", [])
        position = event.get("content_index", 0)
        if kind == "response.content_part.added" or kind == "response.content_part.done":
            part = as_dict(event.get("part"))
            while len(parts) <= position:
                parts.append({})
            if kind.endswith(".done") or not parts[position]:
                parts[position] = part
            return
        while len(parts) <= position:
            parts.append({})
        part = parts[position]
        if kind.startswith("response.output_text."):
            part.setdefault("type", "output_text")
            part.setdefault("text", "")
            part.setdefault("annotations", [])
            if kind == "response.output_text.delta":
                part["text"] += event.get("delta", "")
            elif kind == "response.output_text.done":
                part["text"] = event.get("text", "")
            elif kind == "response.output_text.annotation.added":
                part["annotations"].append(as_dict(event.get("annotation")))
        else:
            part.setdefault("type", "refusal")
            part.setdefault("refusal", "")
            if kind == "response.refusal.delta":
                part["refusal"] += event.get("delta", "")
            elif kind == "response.refusal.done":
                part["refusal"] = event.get("refusal", "")
    elif kind.startswith("response.function_call_arguments."):
        call = items.setdefault(index, {"type": "function_call", "arguments": ""})
        if kind.endswith(".delta"):
            call["arguments"] = call.get("arguments", "") + event.get("delta", "")
        else:
            call["arguments"] = event.get("arguments", "")
            if event.get("name"):
                call["name"] = event["name"]
    elif kind == "error":
        state["status"] = "failed"


def streaming_response_to_message(chunks, state: dict | None = None):
    """Fold Responses stream events into one message: ``(message, state)``.

    Events apply in ``sequence_number`` order: a duplicate is ignored and an event
    that arrives early waits until the gap before it fills. ``*.done`` events replace
    what the deltas built, and a terminal event (``response.completed``, ``.incomplete``,
    ``.failed``) is the whole answer, gaps or not. Call again with more events and the
    returned state to continue.
    """
    state = state or _new_response_state()
    for chunk in chunks:
        event = as_dict(chunk)
        number = event.get("sequence_number")
        kind = event.get("type", "")
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            state["final"] = as_dict(event.get("response"))
            continue
        if number is None:  # servers without sequence numbers: arrival order
            _apply_response_event(state, event)
            continue
        if number < state["next"] or number in state["seen"]:
            continue
        state["seen"].add(number)
        heapq.heappush(state["pending"], (number, event))  # numbers are unique here
        while state["pending"] and state["pending"][0][0] == state["next"]:
            _, ready = heapq.heappop(state["pending"])
            _apply_response_event(state, ready)
            state["seen"].discard(state["next"])
            state["next"] += 1
    if state["final"] is not None:
        return response_to_message(state["final"]), state
    content = []
    for _, item in sorted(state["items"].items()):
        content += _output_item_to_content(item)
    message = {
        "id": state["id"],
        "role": "assistant",
        "status": state["status"],
        "content": content,
        "usage": None,
    }
    return message, state

"""The bodies and events of the Responses API (`/v1/responses`) and the Conversations API
(`/v1/conversations`), built in one place as `openai_wire` builds Chat Completions'.
Messages come in the API shape of `serialization.message_to_dict`."""

from .openai_wire import sse, timestamp, unanswered_calls, usage

# The Responses API (`/v1/responses`). Ids carry OpenAI's prefixes; the part after the
# prefix is ours (a stored reply's, or a conversation's id).
RESPONSE_PREFIX = "resp_"
CONVERSATION_PREFIX = "conv_"
# An output item's id: its kind's prefix, the reply's id, its place in the output.
ITEM_PREFIXES = {
    "message": "msg",
    "reasoning": "rs",
    "function_call": "fc",
    "function_call_output": "fco",
}
# The output item that holds a reply's content item of each type (others are not output).
OUTPUT_KINDS = {"output_text": "message", "refusal": "message", "reasoning": "reasoning"}
# The reply's error codes that end it early, as `incomplete_details.reason`.
INCOMPLETE_REASONS = {"max_tokens": "max_output_tokens", "content_filter": "content_filter"}
TERMINAL_EVENTS = {"completed": "response.completed", "failed": "response.failed"}


def response_id(reply_id) -> str:
    return f"{RESPONSE_PREFIX}{reply_id}"


def conversation_public_id(conversation_id) -> str:
    return f"{CONVERSATION_PREFIX}{conversation_id}"


def unprefixed(value: str, prefix: str) -> str:
    """Our id in an id given back by a client (with OpenAI's prefix, or without it)."""
    return value.removeprefix(prefix)


def _item_id(reply_id: str, kind: str, index: int) -> str:
    return f"{ITEM_PREFIXES[kind]}_{reply_id}_{index}"


def response_usage(reply: dict) -> dict | None:
    if not reply.get("usage"):
        return None
    counts = usage(reply)
    return {
        "input_tokens": counts["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": counts["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": reply["usage"].get("reasoning_tokens", 0)},
        "total_tokens": counts["total_tokens"],
    }


def response_output(reply: dict, *, client_only: bool = True) -> list[dict]:
    """The reply's output items: a message for each run of text (and refusals), a
    reasoning item for each run of reasoning, its tool calls in their place. With
    `client_only`, the calls of the client's tools only: server-side tools ran here, their
    calls and outputs are not the client's to answer; else those too."""
    return [item for item, _ in _output_sources(reply, client_only=client_only)]


def _output_sources(reply: dict, *, client_only: bool) -> list[tuple[dict, list[int]]]:
    """`response_output`'s items, each with the positions in `reply["content"]` of the
    content items it is made of."""
    done = "completed" if reply["status"] not in ("queued", "in_progress") else "in_progress"
    pending = {id(item) for item in unanswered_calls(reply)}
    sources = []
    for position, item in enumerate(reply["content"]):
        kind = OUTPUT_KINDS.get(item["type"])
        if item["type"] in ("function_call", "function_call_output"):
            if not client_only or id(item) in pending:
                tool_item = _tool_item(reply["id"], len(sources), item, status=done)
                sources.append((tool_item, [position]))
            continue
        if kind is None:
            continue
        if not sources or sources[-1][0]["type"] != kind:
            entry = {"id": _item_id(reply["id"], kind, len(sources)), "type": kind}
            if kind == "message":
                entry.update(role="assistant", status=done, content=[])
            else:
                entry.update(summary=[], status=done)
            sources.append((entry, []))
        output, positions = sources[-1]
        positions.append(position)
        if item["type"] == "output_text":
            part = {
                "type": "output_text",
                "text": item.get("text", ""),
                "annotations": [],
                "logprobs": [],
            }
            output["content"].append(part)
        elif item["type"] == "refusal":
            output["content"].append({"type": "refusal", "refusal": item.get("text", "")})
        else:
            output["summary"] += [
                {"type": "summary_text", "text": part.get("text", "")}
                for part in item.get("summary") or []
            ]
    return sources


def _tool_item(message_id: str, index: int, item: dict, *, status: str) -> dict:
    """A stored `function_call` or `function_call_output` as an output item."""
    kind = item["type"]
    fields = {
        "id": _item_id(message_id, kind, index),
        "type": kind,
        "call_id": item.get("call_id", ""),
    }
    if kind == "function_call":
        fields.update(name=item.get("name", ""), arguments=item.get("arguments") or "")
    else:
        fields["output"] = item.get("output", "")
    return {**fields, "status": status}


def response_tools(chat_tools: list | None) -> list[dict]:
    """The conversation's client tools (kept in the Chat Completions shape) as the
    Responses API's function tools."""
    return [
        {
            "type": "function",
            "strict": None,
            "description": None,
            "parameters": None,
            **tool["function"],
        }
        for tool in chat_tools or []
        if tool.get("type") == "function" and isinstance(tool.get("function"), dict)
    ]


def response(
    reply: dict,
    *,
    conversation_id: str | None,
    instructions: str | None,
    tools: list[dict],
    store: bool = True,
    previous_response_id=None,
) -> dict:
    """A `response` object for a reply, finished or not; `previous_response_id` is the id
    of the reply it continued from (None: none)."""
    status = reply["status"]
    error = reply.get("error") or {}
    incomplete = None
    if status == "incomplete":
        incomplete = {"reason": INCOMPLETE_REASONS.get(error.get("code"))}
    failed = None
    if status == "failed":
        failed = {
            "code": error.get("code") or "server_error",
            "message": error.get("message") or "",
        }
    return {
        "id": response_id(reply["id"]),
        "object": "response",
        "created_at": timestamp(reply["created_at"]),
        "status": status,
        "background": False,
        "error": failed,
        "incomplete_details": incomplete,
        "instructions": instructions or None,
        "max_output_tokens": None,
        "model": reply["model"],
        "output": response_output(reply),
        "parallel_tool_calls": True,
        "previous_response_id": response_id(previous_response_id) if previous_response_id else None,
        "reasoning": {"effort": None, "summary": None},
        "store": store,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": tools,
        "top_p": None,
        "truncation": "disabled",
        "usage": response_usage(reply),
        "user": None,
        "metadata": {},
        "conversation": {"id": conversation_public_id(conversation_id)}
        if conversation_id
        else None,
    }


class ResponseEvents:
    """The events of one streamed response, numbered from 0: `response.created` and
    `response.in_progress`, an output item opened for each run of text or reasoning as
    its deltas come (with its content or summary part), each closed with its `.done`
    events, then the calls of the client's tools (each opened, its arguments as a delta
    and done, closed), then the terminal event with the whole response. Same interface
    as `ChunkMaker`."""

    closing = ""  # the terminal event ends the stream; no `[DONE]`

    def __init__(self, reply: dict, **response_fields):
        self.reply_id = reply["id"]
        self.fields = response_fields
        self.started = response(reply, **response_fields)
        self.sequence_number = 0
        self.items = []  # the output items opened so far
        self.open = None  # the kind ("message", "reasoning") of the open item

    @staticmethod
    def encode(event: dict) -> str:
        return f"event: {event['type']}\n{sse(event)}"

    def _event(self, kind: str, **fields) -> dict:
        event = {"type": kind, "sequence_number": self.sequence_number, **fields}
        self.sequence_number += 1
        return event

    def _place(self) -> dict:
        """Where the open item is, as every event about it says."""
        return {"item_id": self.items[-1]["id"], "output_index": len(self.items) - 1}

    def first(self) -> list[dict]:
        return [
            self._event("response.created", response=self.started),
            self._event("response.in_progress", response=self.started),
        ]

    def _open(self, kind: str) -> list[dict]:
        item_id = _item_id(self.reply_id, kind, len(self.items))
        if kind == "message":
            item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress"}
            self.items.append({**item, "text": ""})
            return [
                self._event(
                    "response.output_item.added",
                    output_index=len(self.items) - 1,
                    item={**item, "content": []},
                ),
                self._event(
                    "response.content_part.added",
                    **self._place(),
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                ),
            ]
        self.items.append({"id": item_id, "type": "reasoning", "text": ""})
        return [
            self._event(
                "response.output_item.added",
                output_index=len(self.items) - 1,
                item={"id": item_id, "type": "reasoning", "summary": []},
            ),
            self._event(
                "response.reasoning_summary_part.added",
                **self._place(),
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            ),
        ]

    def _close(self) -> list[dict]:
        if self.open is None:
            return []
        item, place = self.items[-1], self._place()
        self.open = None
        if item["type"] == "message":
            part = {"type": "output_text", "text": item["text"], "annotations": []}
            done = {
                "id": item["id"],
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [part],
            }
            return [
                self._event(
                    "response.output_text.done",
                    **place,
                    content_index=0,
                    text=item["text"],
                    logprobs=[],
                ),
                self._event("response.content_part.done", **place, content_index=0, part=part),
                self._event(
                    "response.output_item.done", output_index=place["output_index"], item=done
                ),
            ]
        part = {"type": "summary_text", "text": item["text"]}
        done = {"id": item["id"], "type": "reasoning", "summary": [part]}
        return [
            self._event(
                "response.reasoning_summary_text.done", **place, summary_index=0, text=item["text"]
            ),
            self._event(
                "response.reasoning_summary_part.done", **place, summary_index=0, part=part
            ),
            self._event("response.output_item.done", output_index=place["output_index"], item=done),
        ]

    def delta(self, item_type: str, text: str) -> list[dict]:
        """The events of a delta of the reply's item of `item_type`: text and reasoning
        stream; refusals and tool calls come whole with the final response."""
        kind = OUTPUT_KINDS.get(item_type)
        if kind is None or item_type == "refusal" or not text:
            return []
        events = []
        if self.open != kind:
            events += self._close() + self._open(kind)
            self.open = kind
        self.items[-1]["text"] += text
        if kind == "message":
            events.append(
                self._event(
                    "response.output_text.delta",
                    **self._place(),
                    content_index=0,
                    delta=text,
                    logprobs=[],
                )
            )
        else:
            events.append(
                self._event(
                    "response.reasoning_summary_text.delta",
                    **self._place(),
                    summary_index=0,
                    delta=text,
                )
            )
        return events

    def _call(self, call: dict) -> list[dict]:
        """The events of one call of the client's tools: its item opened, its arguments
        (one delta, then done), its item closed. A call's item needs its `call_id` and
        name from the start (the SDK matches the item it closes by `call_id`), which the
        reply's deltas do not carry: its events come once the reply has ended."""
        index = len(self.items)
        item = _tool_item(self.reply_id, index, call, status="completed")
        self.items.append(item)
        place = {"item_id": item["id"], "output_index": index}
        events = [
            self._event(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
        ]
        if item["arguments"]:
            events.append(
                self._event(
                    "response.function_call_arguments.delta", **place, delta=item["arguments"]
                )
            )
        return [
            *events,
            self._event(
                "response.function_call_arguments.done",
                **place,
                name=item["name"],
                arguments=item["arguments"],
            ),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def deleted(self, text: str) -> list[dict]:
        """The event that ends a response deleted while it streamed: an `error` event."""
        return [self._event("error", code="reply_deleted", message=text, param=None)]

    def last(self, reply: dict) -> list[dict]:
        """The events that end the response: the open item closed, the client's tool
        calls, then `response.completed`, `response.failed` or `response.incomplete`."""
        events = self._close()
        for call in unanswered_calls(reply):
            events += self._call(call)
        final = response(reply, **self.fields)
        kind = TERMINAL_EVENTS.get(reply["status"], "response.incomplete")
        return [*events, self._event(kind, response=final)]


# The Conversations API (`/v1/conversations`).
PAGE_ORDERS = ("asc", "desc")


def conversation_object(conversation: dict) -> dict:
    """A `conversation` object; `conversation` in the API shape of `conversation_to_dict`."""
    return {
        "id": conversation_public_id(conversation["id"]),
        "object": "conversation",
        "created_at": timestamp(conversation["created_at"]),
        "metadata": conversation["context"].get("metadata") or {},
    }


def response_deleted(reply_id) -> dict:
    return {"id": response_id(reply_id), "object": "response.deleted", "deleted": True}


def conversation_deleted(conversation_id) -> dict:
    return {
        "id": conversation_public_id(conversation_id),
        "object": "conversation.deleted",
        "deleted": True,
    }


def _input_part(item: dict) -> dict:
    """A user's stored content item as a message's content part (our items are OpenAI's
    input parts already, with our own additions left out)."""
    return {key: value for key, value in item.items() if key != "html"}


def conversation_items(messages: list[dict]) -> list[dict]:
    """The items of messages (a branch, root first, in the API shape), oldest first:
    a user's message as a message item; a reply as its output items, server-side tool
    calls and outputs included; a tool's message as its outputs."""
    return [item for item, _, _ in conversation_item_sources(messages)]


def conversation_item_sources(messages: list[dict]) -> list[tuple[dict, dict, list[int]]]:
    """`conversation_items`, each as `(item, message, positions)`: the message it shows
    and the positions in `message["content"]` of the content items it is made of."""
    sources = []
    for message in messages:
        if message["role"] == "assistant":
            sources += [
                (item, message, positions)
                for item, positions in _output_sources(message, client_only=False)
            ]
        elif message["role"] == "tool":
            sources += [
                (
                    _tool_item(message["id"], position, item, status="completed"),
                    message,
                    [position],
                )
                for position, item in enumerate(message["content"])
                if item["type"] == "function_call_output"
            ]
        elif message["role"] == "user":
            item = {
                "id": _item_id(message["id"], "message", 0),
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [_input_part(item) for item in message["content"]],
            }
            sources.append((item, message, list(range(len(message["content"])))))
    return sources


def conversation_item_page(items: list[dict], *, after: str | None, limit: int, order: str):
    """The `list` page of `items` (oldest first) in `order`, the `limit` after the item
    `after` (None: from the start); None when `after` is not one of them. `first_id`,
    `last_id` and `has_more` are exact, so that a client paging on `after=last_id` gets
    every item once."""
    ordered = items if order == "asc" else items[::-1]
    start = 0
    if after:
        positions = [index for index, item in enumerate(ordered) if item["id"] == after]
        if not positions:
            return None
        start = positions[0] + 1
    page = ordered[start : start + limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": start + limit < len(ordered),
    }

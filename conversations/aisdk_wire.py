"""The AI SDK's UI message stream (`/api/chat`, what `useChat` reads), built in one place
as `openai_wire` builds /v1's chunks: the chunks of a reply, written from its frames, and
stored messages as UIMessages. Messages come in the API shape of
`serialization.message_to_dict`.

The chunks keep to the fields of ai 5.0.0, whose client rejects any field it does not know
(`z.strictObject`): no `finishReason` on `finish`, no `reason` on `abort`. Tools run on the
server, so their chunks say `dynamic: true` (the client shows them as `dynamic-tool` parts).
"""

import json

from .events import FINISHED_TYPES, REPLY_DELETED
from .openai_wire import DONE, sse

# What a custom backend sends besides `text/event-stream` (the docs ask for it; no client
# version checks it).
HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
# The UI part (`text` or `reasoning`) showing each streamed content item type, and the
# letter its part ids start with.
PART_KINDS = {"output_text": "text", "refusal": "text", "reasoning": "reasoning"}
PART_ID_PREFIX = {"text": "t", "reasoning": "r"}

# Each chunk is a `data:` line; `data: [DONE]` ends the stream.
encode = sse
CLOSING = DONE


# Chunks


def start(message_id: str) -> dict:
    return {"type": "start", "messageId": message_id}


def start_step() -> dict:
    return {"type": "start-step"}


def finish_step() -> dict:
    return {"type": "finish-step"}


def part_start(kind: str, part_id: str) -> dict:
    """`text-start` or `reasoning-start`."""
    return {"type": f"{kind}-start", "id": part_id}


def part_delta(kind: str, part_id: str, delta: str) -> dict:
    return {"type": f"{kind}-delta", "id": part_id, "delta": delta}


def part_end(kind: str, part_id: str) -> dict:
    return {"type": f"{kind}-end", "id": part_id}


def tool_input_start(call_id: str, name: str) -> dict:
    return {"type": "tool-input-start", "toolCallId": call_id, "toolName": name, "dynamic": True}


def tool_input_delta(call_id: str, delta: str) -> dict:
    return {"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": delta}


def tool_input_available(call_id: str, name: str, arguments: str) -> dict:
    return {
        "type": "tool-input-available",
        "toolCallId": call_id,
        "toolName": name,
        "input": tool_input(arguments),
        "dynamic": True,
    }


def tool_output_available(call_id: str, output) -> dict:
    return {
        "type": "tool-output-available",
        "toolCallId": call_id,
        "output": tool_output(output),
        "dynamic": True,
    }


def tool_output_error(call_id: str, text: str) -> dict:
    return {"type": "tool-output-error", "toolCallId": call_id, "errorText": text, "dynamic": True}


def tool_result(item: dict) -> dict:
    """The chunk of a stored tool output: an error when the tool failed (an MCP server's
    error, stored with `is_error`), else its output."""
    if item.get("is_error"):
        return tool_output_error(item.get("call_id", ""), str(item.get("output", "")))
    return tool_output_available(item.get("call_id", ""), item.get("output"))


def error(text: str) -> dict:
    return {"type": "error", "errorText": text}


def finish() -> dict:
    return {"type": "finish"}


def abort() -> dict:
    return {"type": "abort"}


# Content


def item_text(item: dict) -> str:
    """The text of a stored text, refusal or reasoning item."""
    if item["type"] == "reasoning":
        return "".join(part.get("text", "") for part in item.get("summary") or [])
    if item["type"] == "refusal":
        return item.get("refusal", "")
    return item.get("text", "")


def tool_input(arguments) -> object:
    """A call's arguments as the tool's input: the JSON they hold, or the text itself."""
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments) if arguments else {}
    except ValueError:
        return arguments


def tool_output(output) -> object:
    """A tool's stored output: the JSON object or list it holds, else the text as it is."""
    if isinstance(output, str):
        try:
            parsed = json.loads(output)
        except ValueError:
            return output
        return parsed if isinstance(parsed, dict | list) else output
    return output


def failure_text(message: dict) -> str:
    return (message.get("error") or {}).get("message") or "The reply failed."


class UIMessageChunks:
    """The chunks of one reply's stream, written from its frames (`reply_stream`): `start`
    (with the stored reply's id) and `start-step`, a text or reasoning part for each
    content item as its deltas come, tool calls and their outputs (a new step after the
    outputs), then `finish-step` and `finish` (after an `error` when the reply failed;
    `abort` instead of `finish` when it was stopped). A snapshot or the final frame
    brings whatever the deltas did not (a lost frame, a stream joined late), so a client
    ends with the whole reply exactly once."""

    def __init__(self, reply_id: str):
        self.reply_id = reply_id
        self.sent = []  # per content item: its type and what went out of it
        self.open = None  # the index of the text or reasoning part open

    def first(self) -> list[dict]:
        return [start(self.reply_id), start_step()]

    def frame(self, frame: dict) -> list[dict]:
        """The chunks of one of the reply's frames (other frames have none)."""
        if frame["type"] == "message.delta":
            if frame["message_id"] != self.reply_id:
                return []
            return self._delta(frame["item_index"], frame["item_type"], frame["delta"])
        if frame["type"] == "message.deleted" and self.reply_id in frame["message_ids"]:
            return [*self._close(), error(REPLY_DELETED), finish_step(), finish()]
        message = frame.get("message") or {}
        if message.get("id") != self.reply_id:
            return []
        if frame["type"] == "message.snapshot":
            return self._catch_up(message["content"], final=False)
        if frame["type"] in FINISHED_TYPES:
            return self._catch_up(message["content"], final=True) + self._end(message)
        return []

    def _part_id(self, index: int) -> str:
        kind = PART_KINDS[self.sent[index]["type"]]
        return f"{PART_ID_PREFIX[kind]}{index}"

    def _close(self) -> list[dict]:
        if self.open is None:
            return []
        index, self.open = self.open, None
        return [part_end(PART_KINDS[self.sent[index]["type"]], self._part_id(index))]

    def _complete_calls(self) -> list[dict]:
        """`tool-input-available` for the calls whose input is complete (something came
        after them) and not yet sent."""
        chunks = []
        for record in self.sent:
            if record["type"] == "function_call" and not record["done"]:
                record["done"] = True
                chunks.append(
                    tool_input_available(record["call_id"], record["name"], record["arguments"])
                )
        return chunks

    def _begin(self, item: dict) -> list[dict]:
        """The chunks that open the next content item."""
        kind = item["type"]
        chunks = self._close() + self._complete_calls()
        after_outputs = self.sent and self.sent[-1]["type"] == "function_call_output"
        if after_outputs and kind != "function_call_output":
            chunks += [finish_step(), start_step()]  # the model's next turn
        record = {"type": kind, "length": 0, "done": False}
        self.sent.append(record)
        index = len(self.sent) - 1
        if kind in PART_KINDS:
            self.open = index
            chunks.append(part_start(PART_KINDS[kind], self._part_id(index)))
        elif kind == "function_call":
            record.update(call_id=item.get("call_id", ""), name=item.get("name", ""), arguments="")
            chunks.append(tool_input_start(record["call_id"], record["name"]))
        elif kind == "function_call_output":
            called = any(r.get("call_id") == item.get("call_id") for r in self.sent[:-1])
            if called:  # an output without its call in this reply has no part to go in
                chunks.append(tool_result(item))
        return chunks

    def _delta(self, index: int, item_type: str, text: str) -> list[dict]:
        if index == len(self.sent) and item_type in PART_KINDS:
            chunks = self._begin({"type": item_type})
        elif index < len(self.sent) and self.sent[index]["type"] == item_type:
            chunks = []
        else:
            return []  # out of step (a frame was lost): the snapshot coming brings it
        record = self.sent[index]
        if item_type == "function_call":
            if record["done"]:
                return []
            record["arguments"] += text
            return [tool_input_delta(record["call_id"], text)]
        if index != self.open:
            return []
        record["length"] += len(text)
        return [*chunks, part_delta(PART_KINDS[item_type], self._part_id(index), text)]

    def _catch_up(self, content: list[dict], *, final: bool) -> list[dict]:
        """The chunks that bring the client to `content`, the reply as it stands."""
        chunks = []
        for index, item in enumerate(content):
            if index == len(self.sent):
                chunks += self._begin(item)
            record = self.sent[index]
            if record["type"] == "function_call" and not record["done"]:
                record["arguments"] = item.get("arguments") or ""
            elif index == self.open:
                missing = item_text(item)[record["length"] :]
                if missing:
                    record["length"] += len(missing)
                    kind = PART_KINDS[item["type"]]
                    chunks.append(part_delta(kind, self._part_id(index), missing))
        if final:
            chunks += self._close() + self._complete_calls()
        return chunks

    def _end(self, message: dict) -> list[dict]:
        chunks = []
        if message["status"] in ("failed", "incomplete"):
            chunks.append(error(failure_text(message)))
        chunks.append(finish_step())
        chunks.append(abort() if message["status"] == "cancelled" else finish())
        return chunks


# Stored messages as UIMessages (`GET /api/chat/<id>`)


def _user_part(item: dict, files: dict) -> dict | None:
    """A user's content item as a UI part; `files` describes uploads by id (`url`,
    `mediaType`, `filename`)."""
    if item["type"] == "input_text":
        return {"type": "text", "text": item.get("text", "")}
    if item["type"] not in ("input_image", "input_file"):
        return None
    upload = files.get(item.get("file_id") or "")
    if upload is not None:
        return {"type": "file", **upload}
    url = item.get("image_url") or item.get("file_url") or item.get("file_data") or ""
    media_type = "image/*" if item["type"] == "input_image" else "application/octet-stream"
    if url.startswith("data:"):
        media_type = url[5:].split(";", 1)[0].split(",", 1)[0] or media_type
    part = {"type": "file", "mediaType": media_type, "url": url}
    if item.get("filename"):
        part["filename"] = item["filename"]
    return part


def _assistant_parts(content: list[dict], calls: dict) -> list[dict]:
    """A reply's content as UI parts, in steps as its stream sends them; its calls' parts
    are noted in `calls` by call id (a later tool message may answer them)."""
    parts = [{"type": "step-start"}]
    for position, item in enumerate(content):
        kind = item["type"]
        previous = content[position - 1]["type"] if position else None
        if previous == "function_call_output" and kind != "function_call_output":
            parts.append({"type": "step-start"})
        if kind in PART_KINDS:
            parts.append({"type": PART_KINDS[kind], "text": item_text(item), "state": "done"})
        elif kind == "function_call":
            part = {
                "type": "dynamic-tool",
                "toolName": item.get("name", ""),
                "toolCallId": item.get("call_id", ""),
                "state": "input-available",
                "input": tool_input(item.get("arguments") or ""),
            }
            calls[part["toolCallId"]] = part
            parts.append(part)
        elif kind == "function_call_output":
            _answer(calls, item)
    return parts


def _answer(calls: dict, item: dict) -> None:
    part = calls.get(item.get("call_id"))
    if part is None:
        return
    if item.get("is_error"):
        part.update(state="output-error", errorText=str(item.get("output", "")))
    else:
        part.update(state="output-available", output=tool_output(item.get("output")))


def ui_messages(messages: list[dict], *, files: dict) -> list[dict]:
    """A branch (root first) as UIMessages: the user's text and files, each reply's
    reasoning, text and tool calls with their outputs (a tool message's outputs go to the
    calls they answer). System messages have no place there: the prompt is the
    conversation's."""
    result = []
    calls = {}
    for message in messages:
        if message["role"] == "user":
            parts = [_user_part(item, files) for item in message["content"]]
            parts = [part for part in parts if part is not None]
            result.append({"id": message["id"], "role": "user", "parts": parts})
        elif message["role"] == "assistant":
            parts = _assistant_parts(message["content"], calls)
            result.append({"id": message["id"], "role": "assistant", "parts": parts})
        elif message["role"] == "tool":
            for item in message["content"]:
                _answer(calls, item)
    return result

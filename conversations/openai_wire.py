"""The bodies and chunks of the OpenAI-compatible API (/v1/): errors, models and Chat
Completions (the Responses and Conversations APIs' are in `responses_wire`), built in one
place as `events.py` builds the websocket's frames. Messages come in the API shape of
`serialization.message_to_dict`."""

import json
from datetime import datetime

DONE = "data: [DONE]\n\n"

# OpenAI's error `type` by HTTP status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def error(message: str, *, status: int, param: str | None = None, code: str | None = None) -> dict:
    """`{"error": {"message", "type", "param", "code"}}`, OpenAI's error body."""
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def model(model_id: str, *, created: int, owned_by: str) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def model_list(models: list[dict]) -> dict:
    return {"object": "list", "data": models}


def completion_id(reply_id) -> str:
    return f"chatcmpl-{reply_id}"


def timestamp(value: str | None) -> int:
    """Unix seconds of an ISO time from a message dict."""
    return int(datetime.fromisoformat(value).timestamp()) if value else 0


def usage(reply: dict) -> dict:
    stored = reply.get("usage") or {}
    prompt, completion = stored.get("input_tokens", 0), stored.get("output_tokens", 0)
    result = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if stored.get("reasoning_tokens"):
        result["completion_tokens_details"] = {"reasoning_tokens": stored["reasoning_tokens"]}
    return result


def unanswered_calls(reply: dict) -> list[dict]:
    """The reply's calls of the client's tools: those without an output in the reply
    (server-side tools ran, their outputs are stored beside them)."""
    answered = {
        item.get("call_id") for item in reply["content"] if item["type"] == "function_call_output"
    }
    return [
        item
        for item in reply["content"]
        if item["type"] == "function_call" and item.get("call_id") not in answered
    ]


def pending_tool_calls(reply: dict) -> list[dict]:
    """The reply's calls of the client's tools, as `tool_calls`."""
    return [
        {
            "index": index,
            "id": call.get("call_id", ""),
            "type": "function",
            "function": {"name": call.get("name", ""), "arguments": call.get("arguments") or ""},
        }
        for index, call in enumerate(unanswered_calls(reply))
    ]


def reply_text(reply: dict, item_type: str = "output_text") -> str:
    if item_type == "reasoning":
        return "".join(
            part.get("text", "")
            for item in reply["content"]
            if item["type"] == "reasoning"
            for part in item.get("summary") or []
        )
    return "".join(item.get("text", "") for item in reply["content"] if item["type"] == item_type)


def finish_reason(reply: dict) -> str:
    code = (reply.get("error") or {}).get("code")
    if code == "max_tokens":
        return "length"
    if code == "content_filter":
        return "content_filter"
    if pending_tool_calls(reply):
        return "tool_calls"
    return "stop"


def completion(reply: dict, *, conversation_id: str | None) -> dict:
    """A whole `chat.completion` for a finished reply."""
    message = {"role": "assistant", "content": reply_text(reply) or None, "refusal": None}
    reasoning = reply_text(reply, "reasoning")
    if reasoning:
        # Not OpenAI's field, but what vLLM, DeepSeek and the front ends read.
        message["reasoning_content"] = reasoning
    refusal = reply_text(reply, "refusal")
    if refusal:
        message["refusal"] = refusal
    calls = pending_tool_calls(reply)
    if calls:
        message["tool_calls"] = [
            {key: value for key, value in call.items() if key != "index"} for call in calls
        ]
    body = {
        "id": completion_id(reply["id"]),
        "object": "chat.completion",
        "created": timestamp(reply["created_at"]),
        "model": reply["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(reply),
                "logprobs": None,
            }
        ],
        "usage": usage(reply),
    }
    if conversation_id:
        body["conversation_id"] = conversation_id
    return body


class ChunkMaker:
    """The `chat.completion.chunk`s of one streamed reply: all with the same id, created
    time and model, and its conversation's id when it is stored. Each method answers the
    chunks to send (`encode` writes one); `closing` ends the stream."""

    closing = DONE

    def __init__(self, reply: dict, *, conversation_id: str | None, include_usage: bool):
        self.base = {
            "id": completion_id(reply["id"]),
            "object": "chat.completion.chunk",
            "created": timestamp(reply["created_at"]),
            "model": reply["model"],
        }
        if conversation_id:
            self.base["conversation_id"] = conversation_id
        self.include_usage = include_usage

    @staticmethod
    def encode(chunk: dict) -> str:
        return sse(chunk)

    def chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**self.base, "choices": [choice]}

    def first(self) -> list[dict]:
        return [self.chunk({"role": "assistant", "content": ""})]

    def delta(self, item_type: str, text: str) -> list[dict]:
        """The chunks of a delta of the reply's item of `item_type`."""
        if item_type == "output_text":
            return [self.chunk({"content": text})]
        if item_type == "reasoning":
            return [self.chunk({"reasoning_content": text})]
        if item_type == "refusal":
            return [self.chunk({"refusal": text})]
        return []  # function_call arguments: the calls go out whole, in `last`

    @staticmethod
    def deleted(text: str) -> list[dict]:
        """The chunk that ends a reply deleted while it streamed: an error, which the SDK
        raises (`APIError`)."""
        return [error(text, status=404, code="reply_deleted")]

    def last(self, reply: dict) -> list[dict]:
        """The chunks that end the reply: its tool calls, its finish reason, and with
        `stream_options.include_usage` a last chunk with no choices and the usage."""
        chunks = []
        calls = pending_tool_calls(reply)
        if calls:
            chunks.append(self.chunk({"tool_calls": calls}))
        chunks.append(self.chunk({}, finish_reason(reply)))
        if self.include_usage:
            chunks.append({**self.base, "choices": [], "usage": usage(reply)})
        return chunks


def sse(chunk: dict) -> str:
    return f"data: {json.dumps(chunk)}\n\n"

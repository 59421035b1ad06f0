"""A fake OpenAI-compatible upstream: a real HTTP server on loopback, scripted per test.

It speaks the true wire formats, so tests drive the real `openai` SDK against it:
`/v1/chat/completions` (JSON, or SSE `data:` chunks ending with `data: [DONE]`),
`/v1/responses` (JSON, or SSE `event:` + `data:` with `sequence_number`),
`/v1/moderations`, `/v1/models`, and OpenAI error bodies.

    def test_something(fake_openai):          # settings now point at the fake
        fake_openai.reply(text="Hello", reasoning="Thinking", usage=(3, 2, 1))
        fake_openai.reply(tool_calls=[("call_1", "calculate", '{"expression": "1+1"}')])
        fake_openai.error(429, "Slow down", code="rate_limit_exceeded")
        fake_openai.reply(text="Half an answer", cut_after=2)    # connection cut mid-stream
        fake_openai.reply(text="Half an answer", end_after=2)    # body ends early, cleanly
        fake_openai.reply(text="Late", first_token_delay=1.0)    # headers now, data later
        ...
        fake_openai.requests[-1].body["messages"]                 # what the model was sent

Each model request (chat completions or responses) takes the next scripted reply;
when none is left it answers DEFAULT_TEXT.
"""

import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

DEFAULT_TEXT = "Hello from the fake upstream."
CREATED = 1760000000


@dataclass
class Received:
    """One request the fake received."""

    method: str
    path: str
    headers: dict  # names in lower case
    body: dict | None
    peer: tuple = ()  # the client's (host, port): one port, one kept-alive connection


@dataclass
class Reply:
    """One scripted model turn, rendered in whichever wire format the client asked for."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)  # call_id, name, args
    refusal: str = ""
    annotations: list[dict] = field(default_factory=list)
    usage: tuple[int, int, int] = (0, 0, 0)  # input, output, reasoning tokens
    finish: str = ""  # stop (default), tool_calls, length or content_filter
    first_token_delay: float = 0.0  # seconds between the response headers and the first event
    keepalive: bool = False  # while it waits for the first event, send `: keep-alive` comments
    pace: float = 0.0  # seconds between one streamed event and the next
    cut_after: int | None = None  # close the connection after this many events
    end_after: int | None = None  # end the body cleanly after this many events, unfinished
    status: int = 200
    error: dict | None = None  # the OpenAI error object sent with a non-200 status
    stream_error: dict | None = None  # an error reported inside a started stream
    failed: dict | None = None  # Responses only: ends with response.failed and this error
    # How the stream's lines end ("\r\n" and "\r" are SSE too: sse-starlette, which
    # llama.cpp's Python server uses, sends CRLF). Other than "\n", each event's JSON is
    # also sent over two `data:` lines (the SSE way to send a value with a newline), and
    # written in two chunks cut just after the first CR, 10 ms apart, so that a CRLF
    # arrives in halves.
    line_end: str = "\n"

    @property
    def finish_reason(self) -> str:
        return self.finish or ("tool_calls" if self.tool_calls else "stop")


def _pieces(text: str | list[str]) -> list[str]:
    """A text as stream chunks: a list is taken as given, a string split after each word."""
    if isinstance(text, list):
        return text
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]] if text else []


# Chat Completions


def _chat_usage(reply: Reply) -> dict:
    prompt, completion, reasoning = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _chat_tool_calls(reply: Reply) -> list[dict]:
    return [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        for call_id, name, arguments in reply.tool_calls
    ]


def chat_completion(reply: Reply, model: str) -> dict:
    message = {
        "role": "assistant",
        "content": "".join(reply.text) or None,
        "refusal": reply.refusal or None,
        "annotations": reply.annotations,
    }
    if reply.reasoning:
        message["reasoning_content"] = "".join(reply.reasoning)
    if reply.tool_calls:
        message["tool_calls"] = _chat_tool_calls(reply)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}
        ],
        "usage": _chat_usage(reply),
    }


def chat_chunks(reply: Reply, model: str, include_usage: bool) -> list[dict]:
    def chunk(delta, finish_reason=None):
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    # vLLM, Ollama and DeepSeek stream reasoning as `reasoning_content`.
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": piece}) for piece in reply.reasoning]
    chunks += [chunk({"content": piece}) for piece in reply.text]
    if reply.refusal:
        chunks.append(chunk({"refusal": reply.refusal}))
    for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
        half = len(arguments) // 2
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": arguments[:half]},
                        }
                    ]
                }
            )
        )
        chunks.append(
            chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]})
        )
    chunks.append(chunk({}, reply.finish_reason))
    if include_usage:
        # The usage-only chunk comes last, with empty `choices`.
        chunks.append({**chunk({}), "choices": [], "usage": _chat_usage(reply)})
    return chunks


# Responses


def _responses_output(reply: Reply) -> list[dict]:
    output = []
    if reply.reasoning:
        output.append(
            {
                "id": "rs_fake",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "".join(reply.reasoning)}],
            }
        )
    parts = []
    if reply.text:
        parts.append(
            {"type": "output_text", "text": "".join(reply.text), "annotations": reply.annotations}
        )
    if reply.refusal:
        parts.append({"type": "refusal", "refusal": reply.refusal})
    if parts:
        output.append(
            {
                "id": "msg_fake",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": parts,
            }
        )
    for call_id, name, arguments in reply.tool_calls:
        output.append(
            {
                "id": f"fc_{call_id}",
                "type": "function_call",
                "status": "completed",
                "call_id": call_id,
                "name": name,
                "arguments": arguments,
            }
        )
    return output


def response_object(reply: Reply, model: str, status: str = "completed") -> dict:
    input_tokens, output_tokens, reasoning_tokens = reply.usage
    incomplete = None
    if reply.finish in ("length", "content_filter"):
        status = "incomplete"
        reason = "max_output_tokens" if reply.finish == "length" else "content_filter"
        incomplete = {"reason": reason}
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "model": model,
        "output": _responses_output(reply) if status != "in_progress" else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "store": False,
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def response_events(reply: Reply, model: str) -> list[dict]:
    """The Responses stream of `reply`, each event with its `sequence_number`."""
    events = [
        {"type": "response.created", "response": response_object(reply, model, "in_progress")},
        {"type": "response.in_progress", "response": response_object(reply, model, "in_progress")},
    ]
    output_index = 0
    if reply.reasoning:
        item = {"id": "rs_fake", "type": "reasoning", "summary": []}
        where = {"item_id": "rs_fake", "output_index": output_index, "summary_index": 0}
        whole = "".join(reply.reasoning)
        events.append(
            {"type": "response.output_item.added", "output_index": output_index, "item": item}
        )
        events.append(
            {
                "type": "response.reasoning_summary_part.added",
                **where,
                "part": {"type": "summary_text", "text": ""},
            }
        )
        events += [
            {"type": "response.reasoning_summary_text.delta", **where, "delta": piece}
            for piece in reply.reasoning
        ]
        events.append({"type": "response.reasoning_summary_text.done", **where, "text": whole})
        events.append(
            {
                "type": "response.reasoning_summary_part.done",
                **where,
                "part": {"type": "summary_text", "text": whole},
            }
        )
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": output_index,
                "item": _responses_output(reply)[0],
            }
        )
        output_index += 1
    if reply.text or reply.refusal:
        message = {
            "id": "msg_fake",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        events.append(
            {"type": "response.output_item.added", "output_index": output_index, "item": message}
        )
        content_index = 0
        if reply.text:
            where = {
                "item_id": "msg_fake",
                "output_index": output_index,
                "content_index": content_index,
            }
            whole = "".join(reply.text)
            events.append(
                {
                    "type": "response.content_part.added",
                    **where,
                    "part": {"type": "output_text", "text": "", "annotations": []},
                }
            )
            events += [
                {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
                for piece in reply.text
            ]
            events += [
                {
                    "type": "response.output_text.annotation.added",
                    **where,
                    "annotation_index": index,
                    "annotation": annotation,
                }
                for index, annotation in enumerate(reply.annotations)
            ]
            events.append(
                {"type": "response.output_text.done", **where, "text": whole, "logprobs": []}
            )
            events.append(
                {
                    "type": "response.content_part.done",
                    **where,
                    "part": {
                        "type": "output_text",
                        "text": whole,
                        "annotations": reply.annotations,
                    },
                }
            )
            content_index += 1
        if reply.refusal:
            where = {
                "item_id": "msg_fake",
                "output_index": output_index,
                "content_index": content_index,
            }
            events.append(
                {
                    "type": "response.content_part.added",
                    **where,
                    "part": {"type": "refusal", "refusal": ""},
                }
            )
            events.append({"type": "response.refusal.delta", **where, "delta": reply.refusal})
            events.append({"type": "response.refusal.done", **where, "refusal": reply.refusal})
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": output_index,
                "item": next(i for i in _responses_output(reply) if i["type"] == "message"),
            }
        )
        output_index += 1
    for call_id, name, arguments in reply.tool_calls:
        item = {
            "id": f"fc_{call_id}",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        where = {"item_id": item["id"], "output_index": output_index}
        half = len(arguments) // 2
        events.append(
            {"type": "response.output_item.added", "output_index": output_index, "item": item}
        )
        events.append(
            {"type": "response.function_call_arguments.delta", **where, "delta": arguments[:half]}
        )
        events.append(
            {"type": "response.function_call_arguments.delta", **where, "delta": arguments[half:]}
        )
        events.append(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": name,
                "arguments": arguments,
            }
        )
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": output_index,
                "item": {**item, "status": "completed", "arguments": arguments},
            }
        )
        output_index += 1
    if reply.stream_error:
        events.append({"type": "error", **reply.stream_error, "param": None})
    elif reply.failed:
        failed = {**response_object(reply, model), "status": "failed", "error": reply.failed}
        events.append({"type": "response.failed", "response": failed})
    else:
        final = response_object(reply, model)
        events.append({"type": f"response.{final['status']}", "response": final})
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streams, so a cut connection is an error
    server: "_Server"

    def log_message(self, format, *args):
        pass  # quiet test output

    def do_GET(self):
        self._record(None)
        if self.path.rstrip("/") == "/v1/models" and self.server.fake.models is not None:
            self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": model, "object": "model", "created": CREATED, "owned_by": "tests"}
                        for model in self.server.fake.models
                    ],
                },
            )
        else:
            self._not_found()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self._record(body)
        fake = self.server.fake
        path = self.path.rstrip("/")
        if path == "/v1/moderations":
            if fake.moderation_error:
                error = {"message": "Moderation is down", "type": "api_error", "code": None}
                self._json(fake.moderation_error, {"error": error})
                return
            self._json(200, fake.moderation_result(body))
            return
        if path not in ("/v1/chat/completions", "/v1/responses"):
            self._not_found()
            return
        reply = fake.next_reply()
        model = body.get("model", "")
        if reply.status != 200:
            self._json(reply.status, {"error": reply.error}, {"retry-after-ms": "1"})
        elif path == "/v1/chat/completions" and body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = chat_chunks(reply, model, include_usage)
            if reply.stream_error:
                # What a server sends when it fails after streaming began: no finish, no usage.
                chunks = [
                    c for c in chunks if c["choices"] and not c["choices"][0]["finish_reason"]
                ]
                chunks.append({"error": reply.stream_error})
            frames = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
            self._stream(reply, [*frames, "data: [DONE]\n\n"])
        elif path == "/v1/chat/completions":
            self._json(200, chat_completion(reply, model))
        elif body.get("stream"):
            events = response_events(reply, model)
            self._stream(reply, [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events])
        else:
            self._json(200, response_object(reply, model))

    def _record(self, body):
        self.server.fake.requests.append(
            Received(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                self.client_address,
            )
        )

    def _json(self, status: int, payload: dict, headers: dict | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self):
        self._json(
            404,
            {
                "error": {
                    "message": f"No route {self.path}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "not_found",
                }
            },
        )

    def _stream(self, reply: Reply, frames: list[str]):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        waited_until = time.monotonic() + reply.first_token_delay
        while reply.keepalive and time.monotonic() < waited_until:
            # What proxies and some servers send while a model thinks: the connection is
            # never silent, so only a deadline of the client's own ends the wait.
            comment = b": keep-alive\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(comment), comment))
            self.wfile.flush()
            time.sleep(0.05)
        if reply.first_token_delay and not reply.keepalive:
            time.sleep(reply.first_token_delay)
        for number, frame in enumerate(frames[: reply.end_after]):
            if reply.cut_after is not None and number >= reply.cut_after:
                # Gone without the closing empty chunk: the client sees a broken body.
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if number and reply.pace:
                time.sleep(reply.pace)
            pieces = [frame.encode()]
            if reply.line_end != "\n":
                data = frame.replace(", ", ",\ndata: ", 1).replace("\n", reply.line_end).encode()
                cut = data.index(b"\r") + 1
                pieces = [data[:cut], data[cut:]]
            for position, piece in enumerate(pieces):
                if position:
                    time.sleep(0.01)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeOpenAI"

    def handle_error(self, request, client_address):
        # A scripted cut leaves a broken socket behind: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeOpenAI:
    """The scripted upstream; `base_url` is what OPENAI_BASE_URL should be."""

    def __init__(self):
        self.requests: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.flagged_words: dict[str, str] = {}  # moderation: word -> category it flags
        self.moderation_error: int | None = None  # moderation answers this status instead
        self.models: list[str] | None = ["fake-model"]  # what /v1/models lists (None: 404)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval so that stopping the server does not slow every test down.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(
        self,
        text: str | list[str] = "",
        *,
        reasoning: str | list[str] = "",
        tool_calls: list[tuple[str, str, str]] = (),
        refusal: str = "",
        annotations: list[dict] = (),
        usage: tuple[int, int, int] = (5, 7, 0),
        finish: str = "",
        first_token_delay: float = 0.0,
        keepalive: bool = False,
        pace: float = 0.0,
        cut_after: int | None = None,
        end_after: int | None = None,
        stream_error: dict | None = None,
        failed: dict | None = None,
        line_end: str = "\n",
    ) -> Reply:
        """Queue one model turn; a string `text` streams word by word, a list chunk by chunk."""
        scripted = Reply(
            text=_pieces(text),
            reasoning=_pieces(reasoning),
            tool_calls=list(tool_calls),
            refusal=refusal,
            annotations=list(annotations),
            usage=usage,
            finish=finish,
            first_token_delay=first_token_delay,
            keepalive=keepalive,
            pace=pace,
            cut_after=cut_after,
            end_after=end_after,
            stream_error=stream_error,
            failed=failed,
            line_end=line_end,
        )
        self.replies.append(scripted)
        return scripted

    def error(
        self, status: int, message: str, *, code: str | None = None, type: str = "api_error"
    ) -> Reply:
        """Queue an error answer: `status` with an OpenAI error body."""
        scripted = Reply(
            status=status, error={"message": message, "type": type, "param": None, "code": code}
        )
        self.replies.append(scripted)
        return scripted

    def next_reply(self) -> Reply:
        return self.replies.popleft() if self.replies else Reply(text=_pieces(DEFAULT_TEXT))

    def model_requests(self) -> list[Received]:
        """The requests that asked the model for a reply (not moderations nor model lists)."""
        return [
            received
            for received in self.requests
            if received.path.rstrip("/") in ("/v1/chat/completions", "/v1/responses")
        ]

    def moderation_result(self, body: dict) -> dict:
        inputs = body.get("input", "")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        results = []
        for text in inputs:
            text = text if isinstance(text, str) else json.dumps(text)
            hits = {
                category for word, category in self.flagged_words.items() if word in text.lower()
            }
            categories = {category: category in hits for category in sorted(MODERATION_CATEGORIES)}
            results.append(
                {
                    "flagged": bool(hits),
                    "categories": categories,
                    "category_scores": {
                        name: 0.99 if hit else 0.001 for name, hit in categories.items()
                    },
                }
            )
        return {
            "id": "modr-fake",
            "model": body.get("model", "omni-moderation-latest"),
            "results": results,
        }


MODERATION_CATEGORIES = {
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
}


@pytest.fixture
def fake_openai(settings):
    """A running fake upstream, with the settings of the openai providers pointing at it."""
    fake = FakeOpenAI().start()
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_API_KEY = "sk-test"
    settings.LLM_MODEL = "fake-model"
    settings.LLM_PROVIDER = "openai"
    settings.LLM_MAX_RETRIES = 0
    yield fake
    fake.stop()

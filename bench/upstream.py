"""The bench's model: an OpenAI-compatible `POST /v1/chat/completions` that streams
`tokens` tokens ("t0 t1 t2 ...") one every `interval` seconds, both read from the last
user message (`tokens=200 interval=0.01`), so one upstream serves every scenario.

Plain asyncio streams; one ticker writes every stream's due tokens (each its own `data:`
event), so it holds a thousand streams of 100 tokens a second on about half a core.

    python bench/upstream.py PORT
"""

import asyncio
import json
import re
import sys

SETTINGS = re.compile(r"tokens=(\d+)\s+interval=([0-9.]+)")
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
# How often due tokens are written: a stream's tokens go out at most this late.
TICK = 0.005
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def settings(body: dict) -> tuple[int, float]:
    """(tokens, interval) named in the last user message; 20 tokens at 0.01 s when none."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = users[-1].get("content", "") if users else ""
    if isinstance(text, list):
        text = " ".join(part.get("text", "") for part in text if isinstance(part, dict))
    found = SETTINGS.search(str(text))
    return (int(found[1]), float(found[2])) if found else (20, 0.01)


def frame(event: bytes) -> bytes:
    """One `data:` event as a chunk of the chunked response body."""
    return b"%x\r\n%s\r\n" % (len(event) + 2, event + b"\n\n")


def event(model: str, delta: dict | None, finish=None, usage=None) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    data = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0}
    data |= {"model": model, "choices": choices} | ({"usage": usage} if usage else {})
    return b"data: " + json.dumps(data).encode()


class Stream:
    """One response being written: its tokens fall due one every `interval` from its start,
    and the ticker writes those due, so a thousand streams need no thousand timers."""

    active: set["Stream"] = set()

    def __init__(self, writer: asyncio.StreamWriter, body: dict):
        self.writer, self.body = writer, body
        self.tokens, self.interval = settings(body)
        model = str(body.get("model", ""))
        # A token's event is this with "t<i> " in the middle: the same JSON, made cheaply.
        self.head, _, self.tail = event(model, {"content": "@"}).partition(b"@")
        writer.write(HEAD + frame(event(model, {"role": "assistant", "content": ""})))
        self.start, self.sent = asyncio.get_running_loop().time(), 0
        self.done = asyncio.get_running_loop().create_future()
        self.write_due(self.start)
        Stream.active.add(self)

    def write_due(self, now: float) -> None:
        if self.writer.is_closing():  # the client hung up
            self.end()
            return
        due = min(self.tokens, int((now - self.start) / self.interval) + 1)
        tokens = (frame(b"%st%d %s" % (self.head, i, self.tail)) for i in range(self.sent, due))
        self.writer.write(b"".join(tokens))
        self.sent = due
        if now >= self.start + self.tokens * self.interval:
            model = str(self.body.get("model", ""))
            self.writer.write(frame(event(model, {}, finish="stop")))
            if self.body.get("stream_options", {}).get("include_usage"):
                usage = {"prompt_tokens": 1, "completion_tokens": self.tokens}
                usage["total_tokens"] = self.tokens + 1
                self.writer.write(frame(event(model, None, usage=usage)))
            self.writer.write(frame(b"data: [DONE]") + b"0\r\n\r\n")
            self.end()

    def end(self) -> None:
        Stream.active.discard(self)
        if not self.done.done():
            self.done.set_result(None)

    @classmethod
    async def ticker(cls) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for stream in list(cls.active):
                try:
                    stream.write_due(now)
                except (RuntimeError, ConnectionError):  # its connection is gone
                    stream.end()
            await asyncio.sleep(TICK)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Requests on one keep-alive connection, one after the other."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(length[1])) if length else b""
            if not head.startswith(b"POST /v1/chat/completions "):
                writer.write(NOT_FOUND)
                return
            await Stream(writer, json.loads(body)).done
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=4096)
    async with server:
        await asyncio.gather(server.serve_forever(), Stream.ticker())


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
    else:
        uvloop.run(main(int(sys.argv[1])))

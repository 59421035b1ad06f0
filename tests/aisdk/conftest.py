"""`/api/chat` on the live ASGI server, read as the AI SDK's client reads it: `data:` lines
of JSON chunks ending with `data: [DONE]`. The provider is the fake upstream
(`fake_openai`) or the demo model."""

import json
from dataclasses import dataclass, field

import httpx
import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token

# The fields each chunk type may have in ai 5.0.0 (`ui-message-chunks.ts`), whose client
# rejects any other: what this server promises to send.
AI5_CHUNK_FIELDS = {
    "start": {"messageId", "messageMetadata"},
    "start-step": set(),
    "finish-step": set(),
    "text-start": {"id"},
    "text-delta": {"id", "delta"},
    "text-end": {"id"},
    "reasoning-start": {"id"},
    "reasoning-delta": {"id", "delta"},
    "reasoning-end": {"id"},
    "tool-input-start": {"toolCallId", "toolName", "dynamic"},
    "tool-input-delta": {"toolCallId", "inputTextDelta"},
    "tool-input-available": {"toolCallId", "toolName", "input", "dynamic"},
    "tool-output-available": {"toolCallId", "output", "dynamic"},
    "tool-output-error": {"toolCallId", "errorText", "dynamic"},
    "error": {"errorText"},
    "finish": {"messageMetadata"},
    "abort": set(),
}


@dataclass
class Stream:
    status: int
    headers: httpx.Headers
    chunks: list[dict] = field(default_factory=list)
    done: bool = False  # ended with `data: [DONE]`
    body: str = ""  # a refusal's body

    def types(self) -> list[str]:
        return [chunk["type"] for chunk in self.chunks]

    def text(self, kind: str = "text") -> str:
        return "".join(c["delta"] for c in self.chunks if c["type"] == f"{kind}-delta")

    def message_id(self) -> str:
        return self.chunks[0]["messageId"]


def read_stream(response: httpx.Response, *, stop_after: int | None = None) -> Stream:
    """The chunks of a UI message stream (all, or the first `stop_after`)."""
    stream = Stream(status=response.status_code, headers=response.headers)
    if response.status_code != 200:
        stream.body = response.read().decode()
        return stream
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            stream.done = True
            continue
        assert not stream.done, "a chunk after [DONE]"
        stream.chunks.append(json.loads(line[len("data: ") :]))
        if stop_after is not None and len(stream.chunks) >= stop_after:
            break
    return stream


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters live in the cache: every test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice_token(alice):
    return Token.objects.create(user=alice).key


@pytest.fixture
def bob_token(bob):
    return Token.objects.create(user=bob).key


@pytest.fixture
def chat(server_url, alice_token):
    """`chat(body, token=alice's, stop_after=None)`: POST /api/chat, read as a stream."""

    def post(body: dict, *, token: str = alice_token, stop_after: int | None = None) -> Stream:
        headers = {"Authorization": f"Token {token}"}
        with httpx.stream(
            "POST", f"{server_url}/api/chat", json=body, headers=headers, timeout=30
        ) as response:
            return read_stream(response, stop_after=stop_after)

    return post


def user_message(message_id: str, text: str, *files: dict) -> dict:
    """A UIMessage as `sendMessage({text, files})` makes it."""
    return {"id": message_id, "role": "user", "parts": [*files, {"type": "text", "text": text}]}

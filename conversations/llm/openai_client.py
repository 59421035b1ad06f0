"""What both OpenAI providers share: the SDK client from settings, the reading of its
streams, and the error mapping."""

import asyncio
import contextlib
import json
import weakref

import httpx2
import openai
from django.conf import settings

from .base import ProviderError, upstream_reading

# The model when neither the conversation nor LLM_MODEL names one.
DEFAULT_MODEL = "gpt-4o-mini"

# Error codes in OpenAI error bodies (and in those of compatible servers) that mean
# something more precise than "the upstream failed".
_BODY_CODES = {
    "context_length_exceeded": "context_length",
    "string_above_max_length": "context_length",
    "content_filter": "content_filter",
    "content_policy_violation": "content_filter",
    "rate_limit_exceeded": "rate_limited",
    "insufficient_quota": "rate_limited",
    "invalid_api_key": "auth_failed",
}


# Clients by event loop, then by configuration: building one (an SSL context, a connection
# pool) costs tens of milliseconds, so replies share it and its open connections. Its
# connections belong to one event loop; a loop that ends takes its clients with it.
_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# How long the end of a stream's body is waited for after its `[DONE]`.
DRAIN_SECONDS = 0.1


def client() -> openai.AsyncOpenAI:
    """The client for the current settings on the running event loop, built once."""
    config = (
        # Local servers (Ollama, vLLM, llama.cpp) need no key, but the SDK wants one.
        settings.OPENAI_API_KEY or "no-key",
        settings.OPENAI_BASE_URL or None,
        settings.LLM_FIRST_TOKEN_TIMEOUT,
        settings.LLM_CONNECT_TIMEOUT,
        settings.LLM_MAX_RETRIES,
    )
    clients = _clients.setdefault(asyncio.get_running_loop(), {})
    if config not in clients:
        api_key, base_url, first_token_timeout, connect_timeout, max_retries = config
        clients[config] = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            # aiohttp under the SDK's httpx interface: its C parser reads a streamed
            # chunk for a fraction of what httpx's pure-Python stack costs per token.
            http_client=openai.DefaultAioHttpClient(),
            # The read timeout bounds the wait for the first token and every silence after
            # it; the whole reply is bounded by LLM_TOTAL_TIMEOUT in the generation runner.
            timeout=openai.Timeout(first_token_timeout, connect=connect_timeout),
            max_retries=max_retries,
        )
    return clients[config]


class _Reading:
    """The connection an aiohttp response arrives on, paused and resumed while its body
    still arrives (once all of it has come, there is nothing to pause)."""

    def __init__(self, response):
        self.response = response
        self.paused = None  # the protocol paused, until resumed
        self.resuming = None  # the timer that resumes it (`hold`)

    def hold(self, seconds: float) -> bool:
        """Pause for `seconds` (False: nothing to pause)."""
        self.pause_reading()
        if self.paused is None:
            return False
        self.resuming = asyncio.get_running_loop().call_later(seconds, self.resume_reading)
        return True

    def pause_reading(self) -> None:
        connection = self.response.connection
        if connection is not None and not self.response.content.is_eof():
            self.paused = connection.protocol
            self.paused.pause_reading()

    def resume_reading(self) -> None:
        if self.resuming is not None:
            self.resuming.cancel()
            self.resuming = None
        if self.paused is not None:
            self.paused.resume_reading()
            self.paused = None


@contextlib.asynccontextmanager
async def json_events(path: str, body: dict):
    """The events of a streamed `POST path` to the model server, as the plain JSON they
    arrive in. The SDK sends the request (retries, errors by status); the stream's bytes
    are read here (`_event_data`): the SDK's typed chunks, then its own event decoder,
    cost more CPU per token than everything else a reply does (see bench/). The SDK's
    errors come out as ProviderError. Leaving the block (the stream's end, a cancel, a
    timeout) closes the stream, which frees its connection for the next reply."""
    try:
        stream = await client().post(
            path, body=body, cast_to=object, stream=True, stream_cls=openai.AsyncStream[object]
        )
        events = contextlib.aclosing(_json_events(stream.response))
        async with stream, _reading(stream), events as json_events:
            yield json_events
    except openai.OpenAIError as exc:
        raise provider_error(exc) from exc


async def _json_events(response: httpx2.Response):
    """The JSON of each event of `response` up to `[DONE]`, as the SDK reads them: an event
    holding an `error` is raised as the SDK's APIError, a timeout or a broken connection
    as its APITimeoutError and APIConnectionError."""
    chunks = response.aiter_bytes()
    try:
        async for data in _event_data(chunks):
            if data.startswith(b"[DONE]"):
                await _drain(chunks)
                return
            event = json.loads(data)
            if isinstance(event, dict) and event.get("error"):
                error = event["error"]
                message = error.get("message") if isinstance(error, dict) else None
                if not isinstance(message, str) or not message:
                    message = "An error occurred during streaming"
                raise openai.APIError(message, request=response.request, body=error)
            yield event
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except httpx2.RequestError as exc:
        raise openai.APIConnectionError(request=response.request) from exc


async def _drain(chunks) -> None:
    """Read what follows `[DONE]` (the body's end) for a moment, as the SDK does: a body
    read to its end leaves its connection to the next request (HTTP/1.1)."""
    with contextlib.suppress(TimeoutError, httpx2.RequestError):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass


async def _event_data(chunks):
    """The `data` of each server-sent event in `chunks` (bytes as they arrive): an event
    ends at a blank line, its `data:` lines are joined by newlines, other fields and
    comments are skipped. Lines may end with LF, CRLF or CR. Each chunk is scanned once,
    however long an event grows over many chunks."""
    parts = []  # what came since the last event ended
    after_cr = False  # the last chunk ended with a CR: an LF first in the next is its CRLF's
    async for chunk in chunks:
        if after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        after_cr = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not chunk:
            continue
        if b"\n\n" not in (parts[-1][-1:] if parts else b"") + chunk:
            parts.append(chunk)  # no event ended in it
            continue
        *events, rest = b"".join([*parts, chunk]).split(b"\n\n")
        parts = [rest] if rest else []
        for event in events:
            if event.startswith(b"data: ") and b"\n" not in event:
                yield event[6:]  # the usual event: one data line
                continue
            lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
            if lines:
                yield b"\n".join(line.removeprefix(b" ") for line in lines)


@contextlib.asynccontextmanager
async def _reading(stream: openai.AsyncStream):
    """Offer the connection `stream` is read from as `upstream_reading` while it is read.
    The SDK names no way to it: it is aiohttp's, under the SDK's httpx shim, and when
    that moves, nothing is offered (the stream is read as it comes)."""
    try:
        response = stream.response.stream._stream._aiohttp_response
    except AttributeError:
        response = None
    reading = None if response is None else _Reading(response)
    upstream_reading.set(reading)
    try:
        yield
    finally:
        if reading is not None:
            reading.resume_reading()  # before the connection goes back to the pool
        # Set, not reset: a stream left unfinished is closed later, in another context.
        upstream_reading.set(None)


def _body_code(body) -> str:
    if isinstance(body, dict):
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        return str(error.get("code") or error.get("type") or "")
    return ""


async def close_clients() -> None:
    """Close the running loop's clients and their connections (a server shutting down)."""
    for sdk_client in _clients.pop(asyncio.get_running_loop(), {}).values():
        await sdk_client.close()


def _socket_failed(exc: BaseException) -> bool:
    """Whether a connection error came from the socket (refused, reset), not a clock: the
    SDK's aiohttp transport reports a refused connection as a connect timeout."""
    while exc is not None:
        if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__
    return False


def provider_error(exc: openai.OpenAIError) -> ProviderError:
    """The ProviderError (stable code, message a person can act on) for an SDK error."""
    if isinstance(exc, openai.APITimeoutError) and not _socket_failed(exc):
        return ProviderError("timeout", "The model server did not answer in time.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            "connection_lost", "The connection to the model server was lost.", retryable=True
        )
    return upstream_error(
        _body_code(getattr(exc, "body", None)),
        getattr(exc, "message", "") or str(exc),
        status=getattr(exc, "status_code", None),
    )


def upstream_error(body_code: str, message: str, *, status: int | None = None) -> ProviderError:
    """The ProviderError for an error the server reported (with a status, or in a stream)."""
    code = _BODY_CODES.get(body_code or "")
    if code is None and "context length" in message.lower():
        code = "context_length"
    if code is None and status in (401, 403):
        code = "auth_failed"
    if code is None and status == 429:
        code = "rate_limited"
    if code == "auth_failed":
        detail = f"The model server refused the credentials: {message}"
    elif code == "rate_limited":
        detail = f"The model server is rate limiting requests; try again shortly. ({message})"
    elif code == "context_length":
        detail = f"The conversation is too long for the model: {message}"
    elif code == "content_filter":
        detail = f"The model server's content filter refused the request: {message}"
    else:
        code = "upstream_error"
        detail = f"The model server failed ({status or 'during the stream'}): {message}"
    retryable = code == "rate_limited" or (code == "upstream_error" and (status or 500) >= 500)
    return ProviderError(code, detail, status=status, retryable=retryable)

"""Server-Sent Events: a reply's websocket events as `data:` lines, `id:` = its `seq`.

The reply runs in the process's runner registry, not in the response: a client
that goes away stops only its own stream, and can resume with
`GET /api/messages/{id}/stream/`, which starts from an exact snapshot.

`/api/chat` streams a reply as the AI SDK's UI message stream instead (`aisdk_wire`).
"""

import json

from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

from .. import aisdk_wire, events, generation, selectors
from ..db import release_connection
from ..models import Message
from ..openai_api.streaming import started_reply_frames
from ..reply_stream import Subscription, reply_frames, sse_response


class EventStreamRenderer(BaseRenderer):
    """Lets DRF accept `Accept: text/event-stream`; errors go out as one `error` event."""

    media_type = "text/event-stream"
    format = "sse"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return _sse(events.error(**data)).encode()


def _sse(event: dict) -> str:
    seq = f"id: {event['seq']}\n" if "seq" in event else ""
    return f"{seq}data: {json.dumps(event)}\n\n"


async def _reply_lines(subscription: Subscription, reply: Message, *, from_snapshot=False):
    async for event in reply_frames(subscription, reply, from_snapshot=from_snapshot):
        yield ": keep-alive\n\n" if event is None else _sse(event)


async def _final_lines(event: dict):
    yield _sse(event)


def _follow(subscription: Subscription, reply: Message, user) -> StreamingHttpResponse:
    """Stream a reply that already exists: from a snapshot while it runs, else its end."""
    reply.refresh_from_db(fields=["status"])
    if reply.is_finished:
        async_to_sync(subscription.close)()
        message = selectors.message_dict_for_user(user=user, message_id=reply.id)
        return sse_response(_final_lines(events.message_finished(message)))
    running = reply.status == Message.Status.IN_PROGRESS
    if running:
        async_to_sync(generation.request_sync)(reply.id, subscription.channel)
    return sse_response(_reply_lines(subscription, reply, from_snapshot=running))


def continue_stream(*, conversation_id, user, start) -> StreamingHttpResponse:
    """Subscribe, call `start()` (a service returning `(reply, created)`), then stream the
    reply, run in the background; a replayed request (same Idempotency-Key) follows the
    reply it started before."""
    subscription = Subscription(conversation_id)
    try:
        reply, created = start()
    except BaseException:
        async_to_sync(subscription.close)()
        raise
    if not created:
        return _follow(subscription, reply, user)
    release_connection()  # stored: the rest needs no database
    async_to_sync(generation.reply_start)(reply)
    return sse_response(_reply_lines(subscription, reply))


def resume_stream(*, reply: Message, user) -> StreamingHttpResponse:
    """A reply's stream for a client that lost it (`Last-Event-ID` or a new tab)."""
    return _follow(Subscription(reply.conversation_id), reply, user)


async def _ui_message_lines(frames, chunks: aisdk_wire.UIMessageChunks):
    for chunk in chunks.first():
        yield aisdk_wire.encode(chunk)
    async for frame in frames:
        if frame is None:
            yield ": keep-alive\n\n"
            continue
        for chunk in chunks.frame(frame):
            yield aisdk_wire.encode(chunk)
    yield aisdk_wire.CLOSING


def ui_message_stream(*, conversation, reply: Message, created: bool) -> StreamingHttpResponse:
    """A reply as the AI SDK's UI message stream, from its `start` whenever the stream is
    joined (`created` False: a reply an earlier request started), then live. The reply
    runs in the background: a client that goes away stops only its own stream."""
    frames = started_reply_frames(conversation=conversation, reply=reply, created=created)
    chunks = aisdk_wire.UIMessageChunks(str(reply.id))
    return sse_response(_ui_message_lines(frames, chunks), **aisdk_wire.HEADERS)

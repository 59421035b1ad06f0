"""Server-Sent Events: a reply's websocket events as `data:` lines, `id:` = its `seq`.

The reply runs in the process's runner registry, not in the response: a client
that goes away stops only its own stream, and can resume with
`GET /api/messages/{id}/stream/`, which starts from an exact snapshot.
"""

import asyncio
import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

from .. import events, generation, selectors
from ..db import release_connection
from ..models import Message

logger = logging.getLogger(__name__)

# A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15


class Subscription:
    """A channel of our own in the conversation's group, joined before anything starts,
    so that no event of the reply can be missed. While the channel layer is down, the
    stream hears this process's own frames instead (the replies it runs)."""

    def __init__(self, conversation_id):
        self.conversation_id = conversation_id
        self.layer = get_channel_layer()
        self.group = events.conversation_group(conversation_id)
        self.local = None
        try:
            self.channel = async_to_sync(self.layer.new_channel)()
            async_to_sync(self.layer.group_add)(self.group, self.channel)
        except Exception:
            logger.warning("The channel layer failed: streaming this process's replies only")
            self.channel = None
            self.local = events.listen_locally(conversation_id)

    async def close(self) -> None:
        if self.local is not None:
            events.stop_listening_locally(self.conversation_id, self.local)
        else:
            await self.layer.group_discard(self.group, self.channel)

    async def receive(self) -> dict:
        if self.local is not None:
            return await self.local.get()
        return (await self.layer.receive(self.channel))["event"]

    async def events(self):
        """The group's events, and None now and then while it is quiet."""
        try:
            while True:
                try:
                    event = await asyncio.wait_for(self.receive(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield None
                    continue
                yield event
        finally:
            await self.close()


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
    """The reply's events in order. `from_snapshot`: it is already running, so deltas count
    only after the snapshot its runner sends, and only those newer than it."""
    ours = {str(reply.id), str(reply.parent_id)}
    seq = None if from_snapshot else 0
    async for event in subscription.events():
        if event is None:
            yield ": keep-alive\n\n"
            continue
        if (event.get("message_id") or event.get("message", {}).get("id")) not in ours:
            continue
        if event["type"] == "message.snapshot":
            seq = event["seq"]
        elif event["type"] == "message.delta":
            if seq is None or event["seq"] <= seq:
                continue
            if event["seq"] > seq + 1:
                # A frame was lost on the way (the channel layer drops frames when it is
                # overloaded): start again from a snapshot, as the page does.
                seq = None
                await generation.request_sync(reply.id, subscription.channel)
                continue
            seq = event["seq"]
        yield _sse(event)
        if event["type"] in events.FINISHED_TYPES and event["message"]["id"] == str(reply.id):
            return


async def _final_lines(event: dict):
    yield _sse(event)


def _response(lines) -> StreamingHttpResponse:
    # The stream may last minutes and reads no database: its connection goes back now.
    release_connection()
    response = StreamingHttpResponse(lines, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response


def _follow(subscription: Subscription, reply: Message, user) -> StreamingHttpResponse:
    """Stream a reply that already exists: from a snapshot while it runs, else its end."""
    reply.refresh_from_db(fields=["status"])
    if reply.is_finished:
        async_to_sync(subscription.close)()
        message = selectors.message_dict_for_user(user=user, message_id=reply.id)
        return _response(_final_lines(events.message_finished(message)))
    running = reply.status == Message.Status.IN_PROGRESS
    if running:
        async_to_sync(generation.request_sync)(reply.id, subscription.channel)
    return _response(_reply_lines(subscription, reply, from_snapshot=running))


def continue_stream(*, conversation, user, start) -> StreamingHttpResponse:
    """Subscribe, call `start()` (a service returning `(reply, created)`), then stream the
    reply, run in the background; a replayed request (same Idempotency-Key) follows the
    reply it started before."""
    subscription = Subscription(conversation.id)
    try:
        reply, created = start()
    except BaseException:
        async_to_sync(subscription.close)()
        raise
    if not created:
        return _follow(subscription, reply, user)
    release_connection()  # stored: the rest needs no database
    async_to_sync(generation.reply_start)(reply)
    return _response(_reply_lines(subscription, reply))


def resume_stream(*, reply: Message, user) -> StreamingHttpResponse:
    """A reply's stream for a client that lost it (`Last-Event-ID` or a new tab)."""
    return _follow(Subscription(reply.conversation_id), reply, user)

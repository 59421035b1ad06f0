"""Following a reply from a request: a subscription to its conversation's events, and the
reply's frames in order, exact across lost frames. The REST API's SSE and the
OpenAI-compatible API's chunks are both written from these frames.

The reply runs in the process's runner registry, not in the request: a client that goes
away stops only its own stream.
"""

import asyncio
import functools
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import StreamingHttpResponse

from . import events, fanout, generation
from .db import release_connection
from .models import Message

logger = logging.getLogger(__name__)

# A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15


class Subscription:
    """The conversation's frames from the moment it is made, so that no event of the reply
    can be missed: this process's directly, other processes' through a channel of its own
    in the conversation's group. While the channel layer is down, it hears this process's
    frames only (the replies it runs)."""

    def __init__(self, conversation_id):
        self.conversation_id = conversation_id
        self.layer = get_channel_layer()
        self.group = events.conversation_group(conversation_id)
        self.inbox = fanout.Inbox()
        try:
            self.channel = async_to_sync(self._join)()
        except Exception:
            logger.warning("The channel layer failed: streaming this process's replies only")
            self.channel = None
        fanout.listen(self.inbox, conversation_id, self.channel)

    async def _join(self) -> str:
        """A channel of the layer in the conversation's group (one trip to the loop)."""
        channel = await self.layer.new_channel()
        await fanout.layer_call(self.layer.group_add(self.group, channel))
        return channel

    async def close(self) -> None:
        fanout.forget(self.inbox, self.conversation_id, self.channel)
        await self.inbox.close()
        if self.channel is not None:
            try:
                await fanout.layer_call(self.layer.group_discard(self.group, self.channel))
            except Exception:  # the layer is down: its groups forget the channel as they expire
                logger.info("The channel layer failed: a stream's channel is left to expire")

    async def events(self):
        """The group's events, and None now and then while it is quiet."""
        if self.channel is not None:
            self.inbox.follow(functools.partial(self.layer.receive, self.channel))
        try:
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        message = await self.inbox.get()
                except TimeoutError:
                    yield None
                    continue
                yield message["event"]
        finally:
            await self.close()


async def reply_frames(subscription: Subscription, reply: Message, *, from_snapshot=False):
    """The reply's frames in order (and None while it is quiet), ending with its final
    frame, or with the `message.deleted` frame that removed it. `from_snapshot`: it is
    already running, so deltas count only after the snapshot its runner sends, and only
    those newer than it. Frames of the message it answers (its `message.created`) come
    too."""
    ours = {str(reply.id), str(reply.parent_id)}
    seq = None if from_snapshot else 0
    async for event in subscription.events():
        if event is None:
            yield None
            continue
        if event["type"] == "message.deleted" and str(reply.id) in event["message_ids"]:
            yield event
            return
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
        yield event
        if event["type"] in events.FINISHED_TYPES and event["message"]["id"] == str(reply.id):
            return


def sse_response(lines, **headers) -> StreamingHttpResponse:
    """A `text/event-stream` response of `lines`. The stream may last minutes and reads no
    database: the request's connection goes back now."""
    release_connection()
    response = StreamingHttpResponse(lines, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    for name, value in headers.items():
        response[name] = value
    return response

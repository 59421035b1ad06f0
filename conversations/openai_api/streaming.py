"""A reply as Chat Completions chunks (`data: {chat.completion.chunk}` lines, then
`data: [DONE]`) or as Responses events, written from the reply's frames (`reply_stream`).
The reply runs in the process's runner registry: a client that goes away stops only its
own stream."""

import asyncio

from asgiref.sync import async_to_sync

from .. import events, generation, openai_wire, selectors
from ..db import release_connection, run_step
from ..models import Message
from ..reply_stream import Subscription, reply_frames, sse_response
from ..serialization import iso

STREAMED_TYPES = ("output_text", "reasoning", "refusal")


async def _frames(subscription: Subscription, reply: Message, *, from_snapshot, final):
    if final is not None:
        await subscription.close()
        yield final
        return
    async for frame in reply_frames(subscription, reply, from_snapshot=from_snapshot):
        yield frame


async def _event_lines(frames, maker, reply_id, *, discard):
    """`maker`'s events (a `ChunkMaker` or a `ResponseEvents`) of the reply's frames, as
    stream lines."""
    sent = dict.fromkeys(STREAMED_TYPES, 0)  # characters sent, by item type
    try:
        for event in maker.first():
            yield maker.encode(event)
        async for frame in frames:
            if frame is None:
                yield ": keep-alive\n\n"
                continue
            if frame["type"] == "message.deleted":
                # The reply's frames end with it only when it removed the reply.
                for event in maker.deleted(events.REPLY_DELETED):
                    yield maker.encode(event)
                continue
            if frame["type"] == "message.delta" and frame["message_id"] == reply_id:
                if frame["item_type"] in sent:
                    sent[frame["item_type"]] += len(frame["delta"])
                for event in maker.delta(frame["item_type"], frame["delta"]):
                    yield maker.encode(event)
                continue
            ours = frame.get("message", {}).get("id") == reply_id
            if not ours or frame["type"] not in ("message.snapshot", *events.FINISHED_TYPES):
                continue
            # A snapshot (after a lost frame) or the end: the text not sent yet goes now.
            for kind in STREAMED_TYPES:
                text = openai_wire.reply_text(frame["message"], kind)
                if len(text) > sent[kind]:
                    for event in maker.delta(kind, text[sent[kind] :]):
                        yield maker.encode(event)
                    sent[kind] = len(text)
            if frame["type"] in events.FINISHED_TYPES:
                for event in maker.last(frame["message"]):
                    yield maker.encode(event)
        if discard is not None:
            await run_step(discard)
            discard = None
        if maker.closing:
            yield maker.closing
    finally:
        if discard is not None:
            # The client went away (this task is being cancelled): the discard still runs.
            await asyncio.shield(asyncio.ensure_future(run_step(discard)))


def started_reply_frames(*, conversation, reply: Message, created: bool = True):
    """Start `reply` (stored by this request; `created` False: by an earlier one) and
    answer its frames from its start: deltas from the first, or, when it was already
    running, a snapshot first; only its final frame when it has ended."""
    subscription = Subscription(conversation.id)
    # A queued reply may have started, or even ended, before the subscription was made.
    status = Message.objects.filter(id=reply.id).values_list("status", flat=True).first()
    fresh = created and reply.status == Message.Status.IN_PROGRESS  # its runner starts below
    started = not fresh and status != Message.Status.QUEUED
    final = None
    if started and status != Message.Status.IN_PROGRESS:
        message = selectors.message_dict_for_user(user=conversation.owner, message_id=reply.id)
        final = events.message_finished(message)
    release_connection()  # stored: the rest needs no database
    async_to_sync(generation.reply_start)(reply, created=created)
    if started and final is None:
        async_to_sync(generation.request_sync)(reply.id, subscription.channel)
    return _frames(subscription, reply, from_snapshot=started, final=final)


def reply_stream(*, conversation, reply: Message, maker, discard=None, headers=None):
    """Start `reply` (stored by this request) and stream it as `maker`'s events (a
    `ChunkMaker` or a `ResponseEvents`); `discard` (a function) runs once the stream is
    over, when the request keeps nothing."""
    frames = started_reply_frames(conversation=conversation, reply=reply)
    lines = _event_lines(frames, maker, str(reply.id), discard=discard)
    return sse_response(lines, **(headers or {}))


def reply_start_dict(reply: Message) -> dict:
    """A reply just stored, in the shape `openai_wire` reads (it has no content yet)."""
    return {
        "id": str(reply.id),
        "status": reply.status,
        "created_at": iso(reply.created_at),
        "model": reply.model,
        "content": [],
        "usage": None,
        "error": None,
    }


def completion_stream(*, conversation, reply: Message, include_usage: bool, discard=None):
    """Start `reply` and stream it as Chat Completions chunks (see `reply_stream`)."""
    stored_id = None if discard else str(conversation.id)
    chunks = openai_wire.ChunkMaker(
        reply_start_dict(reply), conversation_id=stored_id, include_usage=include_usage
    )
    headers = {"X-Conversation-Id": stored_id} if stored_id else {}
    return reply_stream(
        conversation=conversation, reply=reply, maker=chunks, discard=discard, headers=headers
    )

"""A reply as Chat Completions chunks (`data: {chat.completion.chunk}` lines, then
`data: [DONE]`), written from the reply's frames (`reply_stream`). The reply runs in the
process's runner registry: a client that goes away stops only its own stream."""

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


async def _chunk_lines(frames, chunks: openai_wire.ChunkMaker, reply_id, *, include_usage, discard):
    sent = dict.fromkeys(STREAMED_TYPES, 0)  # characters sent, by item type
    try:
        yield openai_wire.sse(chunks.first())
        async for frame in frames:
            if frame is None:
                yield ": keep-alive\n\n"
                continue
            if frame["type"] == "message.delta" and frame["message_id"] == reply_id:
                chunk = chunks.delta(frame["item_type"], frame["delta"])
                if chunk is not None:
                    sent[frame["item_type"]] += len(frame["delta"])
                    yield openai_wire.sse(chunk)
                continue
            ours = frame.get("message", {}).get("id") == reply_id
            if not ours or frame["type"] not in ("message.snapshot", *events.FINISHED_TYPES):
                continue
            # A snapshot (after a lost frame) or the end: the text not sent yet goes now.
            for kind in STREAMED_TYPES:
                text = openai_wire.reply_text(frame["message"], kind)
                if len(text) > sent[kind]:
                    yield openai_wire.sse(chunks.delta(kind, text[sent[kind] :]))
                    sent[kind] = len(text)
            if frame["type"] in events.FINISHED_TYPES:
                for chunk in chunks.last(frame["message"]):
                    yield openai_wire.sse(chunk)
                if include_usage:
                    yield openai_wire.sse(chunks.usage(frame["message"]))
        if discard is not None:
            await run_step(discard)
            discard = None
        yield openai_wire.DONE
    finally:
        if discard is not None:
            # The client went away (this task is being cancelled): the discard still runs.
            await asyncio.shield(asyncio.ensure_future(run_step(discard)))


def completion_stream(*, conversation, reply: Message, include_usage: bool, discard=None):
    """Start `reply` (stored by this request) and stream it as chunks; `discard` (a
    function) runs once the stream is over, when the request keeps nothing."""
    subscription = Subscription(conversation.id)
    # A queued reply may have started, or even ended, before the subscription was made.
    status = Message.objects.filter(id=reply.id).values_list("status", flat=True).first()
    started = reply.status == Message.Status.QUEUED and status != Message.Status.QUEUED
    final = None
    if started and status != Message.Status.IN_PROGRESS:
        message = selectors.message_dict_for_user(user=conversation.owner, message_id=reply.id)
        final = events.message_finished(message)
    release_connection()  # stored: the rest needs no database
    async_to_sync(generation.reply_start)(reply)
    if started and final is None:
        async_to_sync(generation.request_sync)(reply.id, subscription.channel)
    stored_id = None if discard else str(conversation.id)
    chunks = openai_wire.ChunkMaker(
        {"id": str(reply.id), "created_at": iso(reply.created_at), "model": reply.model},
        conversation_id=stored_id,
    )
    frames = _frames(subscription, reply, from_snapshot=started, final=final)
    lines = _chunk_lines(
        frames, chunks, str(reply.id), include_usage=include_usage, discard=discard
    )
    return sse_response(lines, **({"X-Conversation-Id": stored_id} if stored_id else {}))

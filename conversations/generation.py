"""Runs assistant replies: the branch goes to the model, what comes back is streamed to
every open tab and stored.

Every reply starts through `reply_start`, whatever asked for it, and belongs to a
`ReplyRunner` task owned by the process-wide `replies` registry (`reply_tasks`), never
to the socket or request that asked for it. Deltas go to the conversation's channel-layer
group, numbered by `seq` and coalesced; the text is written in batches
(`CHECKPOINT_INTERVAL`, spaced out as the reply grows), not per token. A runner answers
`sync` requests with an exact snapshot and stops on a cancel, both coming from any
process (`reply_tasks.Replies.control`).
"""

import asyncio
import copy
import dataclasses
import functools
import logging
import time

from django.conf import settings
from django.db import transaction

from . import events, selectors, services
from .llm import reply_events
from .llm.accumulate import ReplyAccumulator
from .llm.base import ProviderError, upstream_reading
from .llm.input import reply_input
from .llm.tools import CLIENT_TOOLS
from .models import Conversation, Message
from .reply_tasks import database, replies
from .serialization import message_to_dict, storable

logger = logging.getLogger(__name__)

# Deltas arriving within this many seconds go out as one frame...
COALESCE_INTERVAL = 0.1
# ...or longer while many replies stream in the process: its replies together send about
# this many delta frames a second (one process drains its sockets' frames from the layer
# one at a time; past that it drops them), each frame at most this late.
PROCESS_FRAMES_PER_SECOND = 300
MAX_COALESCE_INTERVAL = 0.25
# A running reply first writes its text after this long, then after twice as long each
# time up to the longest interval (and once at the end): what a crash can cost, against
# writes that grow with the reply's length (a 20 s reply writes 4 times, not 20)...
CHECKPOINT_INTERVAL = 1.0
MAX_CHECKPOINT_INTERVAL = 8.0
# ...or less often while many replies stream in the process: their checkpoints together
# take about this many database steps a second, leaving the pool's connections to the
# requests that start turns (at 1,000 replies, each writes every 10 seconds).
PROCESS_CHECKPOINTS_PER_SECOND = 100
# A reply run outside a server process (no heartbeat of its own) shows it is alive this
# often even while the model is silent (`processes.STALE_AFTER` says when it is lost).
HEARTBEAT_INTERVAL = 10.0


def final_status(accumulator: ReplyAccumulator, error: dict | None) -> tuple[str, dict | None]:
    """(status, error) of a reply that stopped with `error` (None: the stream ended)."""
    has_content = bool(accumulator.content)
    if error is not None:
        return (Message.Status.INCOMPLETE if has_content else Message.Status.FAILED), error
    if accumulator.finish_reason == "length":
        return Message.Status.INCOMPLETE, {
            "code": "max_tokens",
            "message": "The reply reached the length limit and was cut short.",
        }
    if accumulator.finish_reason == "content_filter":
        return Message.Status.INCOMPLETE, {
            "code": "content_filter",
            "message": "The provider's content filter stopped the reply.",
        }
    if not has_content:
        return Message.Status.FAILED, {
            "code": "empty_reply",
            "message": "The model returned nothing. Try again or rephrase.",
        }
    return Message.Status.COMPLETED, None


@functools.cache
def _field_names(event_type: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(event_type))


def storable_event(event):
    """A model event whose text the database and the channel layer can hold (a model may
    send U+0000 or lone surrogates): tabs and the stored reply get the same text."""
    changes = {}
    for name in _field_names(type(event)):
        value = getattr(event, name)
        if isinstance(value, (str, dict)) and (cleaned := storable(value)) != value:
            changes[name] = cleaned
    return dataclasses.replace(event, **changes) if changes else event


class ReplyRunner:
    """Runs one `in_progress` reply to its end: streams, checkpoints, stores."""

    streaming_now = 0  # runners of this process streaming at the moment

    def __init__(self, reply_id, fresh: Message | None = None):
        self.reply_id = reply_id
        # The reply as the turn that created it left it (its conversation, empty content
        # and `model_input` loaded, this process its runner): the start reads nothing.
        self.fresh = fresh
        self.accumulator = ReplyAccumulator()
        self.conversation_id = None
        self.base = {}  # the reply as stored at the start, for snapshots
        self.cancel_requested = False
        self.streaming = False
        self.seq = 0
        self.pending = []  # (item_index, item_type, delta) not yet numbered and sent
        self.flush_handle = None
        self.last_publish = 0.0  # so the first delta's frame is due at once
        self.held = False  # the model's stream was held unread until the next frame is due
        self.last_checkpoint = 0.0
        self.checkpoint_every = CHECKPOINT_INTERVAL
        self.writing = None  # the checkpoint being written, if any
        self.stored = []  # the content as the last write left it in the database
        self.task = None  # the task streaming the reply
        self.following = None  # the queued reply its finish started, to run next
        self.send_lock = asyncio.Lock()
        self.loop = None  # the event loop the reply streams on

    # Database steps (sync, run through `database`)

    @transaction.atomic
    def load(self) -> tuple[Message, list[dict]]:
        """The reply, claimed by this process, and what the model reads to write it."""
        services.reply_attach_runner(reply_id=self.reply_id, process=replies.process)
        messages = selectors.messages_with_content().select_related("conversation")
        reply = messages.get(id=self.reply_id)
        return reply, reply_input(reply=reply)

    @transaction.atomic
    def finish(self, status: str, error: dict | None, *, claim_next: bool) -> Message | None:
        """Store the reply and, in the same transaction, start the next one queued behind
        it (`following`) unless `claim_next` is False (the server is closing)."""
        reply = services.reply_finish(
            reply_id=self.reply_id,
            content=self.accumulator.content,
            stored=self.stored,
            status=status,
            usage=self.accumulator.usage,
            error=error,
        )
        if reply is not None and claim_next:
            self.following = services.reply_claim_next(
                conversation_id=reply.conversation_id, locked=True
            )
        return reply

    # Streaming

    def take_frames(self) -> list[dict]:
        """Number the pending deltas, joined per item, as `message.delta` frames.
        Synchronous, so the accumulator always equals what frames up to `seq` carry."""
        frames = []
        for item_index, item_type, delta in self.pending:
            last = frames[-1] if frames else None
            if last and last["item_index"] == item_index and last["item_type"] == item_type:
                last["delta"] += delta
                continue
            frames.append(events.message_delta(self.reply_id, item_index, item_type, delta))
        self.pending = []
        for frame in frames:
            self.seq += 1
            frame["seq"] = self.seq
        return frames

    async def broadcast(self, frame: dict, channel: str | None = None) -> None:
        """Send a frame to every tab, or to one socket's `channel`. A failing channel
        layer costs other processes' tabs frames (they resync on the gap in `seq` or on
        reconnect), never the reply or this process's tabs (`fanout.relay`)."""
        if channel is None:
            await events.send_event(self.conversation_id, frame)
        else:
            await events.send_event_to(self.conversation_id, channel, frame)

    async def publish(self) -> None:
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        async with self.send_lock:
            for frame in self.take_frames():
                await self.broadcast(frame)
        self.last_publish = time.monotonic()

    @staticmethod
    def coalesce_interval() -> float:
        """How long deltas gather into one frame, given how many replies stream here."""
        share = ReplyRunner.streaming_now / PROCESS_FRAMES_PER_SECOND
        return min(max(COALESCE_INTERVAL, share), MAX_COALESCE_INTERVAL)

    def checkpoint_interval(self) -> float:
        """How long the reply streams before its next write, given its writes so far and
        how many replies stream here."""
        share = ReplyRunner.streaming_now / PROCESS_CHECKPOINTS_PER_SECOND
        return max(self.checkpoint_every, share)

    async def on_delta(self, item_index: int, item_type: str, delta: str) -> None:
        self.pending.append((item_index, item_type, delta))
        if self.flush_handle is None:
            wait = self.last_publish + self.coalesce_interval() - time.monotonic()
            if wait > 0 and not self.held:
                # Its frame is not due yet: the deltas that come meanwhile wait unread in
                # the socket, then are read in one go: one read and one wake-up of the
                # stream, not one each (a 200-token reply read its socket 235 times, now 75).
                connection = upstream_reading.get()
                if connection is not None:
                    connection.pause_reading()
                try:
                    await asyncio.sleep(wait)
                finally:
                    if connection is not None:
                        connection.resume_reading()
            # The frame goes out once all that came is read (the stream waits again).
            self.held = False
            self.flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Send the deltas read so far as frames, hold the model's stream unread until the
        next frame is due, and start a checkpoint if one is due while the reply streams
        (once it has ended, only its finish writes)."""
        asyncio.get_running_loop().create_task(self.publish())
        connection = upstream_reading.get()
        if self.streaming and connection is not None:
            # The next frame's deltas are then read in one go when it is due, not the
            # first of them as soon as it comes, then the rest (one wake-up of the
            # stream a frame, not two).
            self.held = connection.hold(self.coalesce_interval())
        due = time.monotonic() - self.last_checkpoint >= self.checkpoint_interval()
        if self.streaming and due and (self.writing is None or self.writing.done()):
            # Written beside the stream, never in its way: the tokens go on to the tabs
            # while the database is busy, and one write at a time carries all that came.
            self.writing = asyncio.create_task(self.checkpoint(self.accumulator.content))
            self.checkpoint_every = min(self.checkpoint_every * 2, MAX_CHECKPOINT_INTERVAL)

    async def checkpoint(self, content) -> None:
        """Write what arrived so far (`content` None: only a heartbeat); stop the reply if
        it stopped running (cancelled or deleted elsewhere)."""
        self.last_checkpoint = time.monotonic()
        content = copy.deepcopy(content) if content else None
        try:
            running = await database(services.reply_checkpoint)(
                reply_id=self.reply_id, content=content, stored=self.stored
            )
        except Exception:
            # The finish writes everything; a failed checkpoint only loses a heartbeat.
            logger.warning("Reply %s: a checkpoint failed", self.reply_id, exc_info=True)
            return
        if not running:
            self.cancel_requested = True
            self.stop(self.task)
        elif content is not None:
            self.stored = content

    async def send_snapshot(self, reply_to: str | None = None) -> None:
        """Send the reply as it stands, with the `seq` it stands at, to one socket, or to
        every tab when `reply_to` is None."""
        async with self.send_lock:
            frames = self.take_frames()
            snapshot = events.message_snapshot(
                {**self.base, "content": copy.deepcopy(self.accumulator.content)}, self.seq
            )
            for frame in frames:
                await self.broadcast(frame)
            await self.broadcast(snapshot, reply_to)

    def stop(self, task: asyncio.Task) -> None:
        """Stop streaming because the reply was cancelled (once streaming is over, only
        note it: the task is storing the reply and must not be interrupted)."""
        self.cancel_requested = True
        if self.streaming:
            task.cancel()

    def control(self, message: dict) -> None:
        """Act on a control message (a cancel, a sync request), from any thread."""
        self.loop.call_soon_threadsafe(self._on_control, message)

    def _on_control(self, message: dict) -> None:
        if message["type"] == events.REPLY_CANCEL:
            if message.get("deleted"):
                # Its tabs hear it is gone: nothing more of it goes out.
                self.pending = []
            self.stop(self.task)
        elif message["type"] == events.REPLY_SYNC:
            self.loop.create_task(self.send_snapshot(message.get("reply_to")))

    async def keep_alive(self) -> None:
        """Show the reply is alive while the model is silent, for a reply run outside a
        server process (no process heartbeat speaks for it)."""
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            if time.monotonic() - self.last_checkpoint >= HEARTBEAT_INTERVAL:
                await self.checkpoint(None)

    async def stream(self, conversation: Conversation, reply: Message, messages: list[dict]):
        """Feed the model's events through the accumulator, within the time limits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.LLM_TOTAL_TIMEOUT
        first = True
        # Absolute times (`timeout_at`): the first event is due within the first-token
        # limit, the whole reply within the total one, whatever the upstream sends between.
        async with asyncio.timeout_at(
            min(loop.time() + settings.LLM_FIRST_TOKEN_TIMEOUT, deadline)
        ) as limit:
            async for event in reply_events(
                messages,
                system_prompt=conversation.system_prompt,
                model=reply.model,
                tools=conversation.tools or None,
                client_tools=conversation.context.get(CLIENT_TOOLS),
            ):
                if first:
                    first = False
                    limit.reschedule(deadline)
                items = self.accumulator.item_count
                change = self.accumulator.apply(storable_event(event))
                if change is not None:
                    await self.on_delta(*change)
                elif self.accumulator.item_count != items:
                    # A tool call or its output: no text to stream, so every tab gets
                    # the reply as it stands.
                    await self.send_snapshot()

    async def run(self) -> Message | None:
        """Run the reply; returns it as stored (None when it was deleted meanwhile)."""
        if self.fresh is not None:
            reply, messages = self.fresh, self.fresh.model_input
        else:
            try:
                reply, messages = await database(self.load)()
            except Message.DoesNotExist:
                return None
            if reply.status != Message.Status.IN_PROGRESS:
                return reply
        self.base = message_to_dict(reply)
        self.stored = copy.deepcopy(self.base["content"])
        conversation = reply.conversation
        self.conversation_id = conversation.id
        # The first checkpoint comes an interval into the reply, not at its first delta.
        self.last_checkpoint = time.monotonic()
        error = None
        streaming = self.task = asyncio.current_task()
        self.loop = asyncio.get_running_loop()
        beating = None if replies.process is not None else asyncio.create_task(self.keep_alive())
        self.streaming = True
        ReplyRunner.streaming_now += 1
        replies.runners[str(self.reply_id)] = self
        try:
            await self.stream(conversation, reply, messages)
        except asyncio.CancelledError:
            # A cancel asked for by a user, or the server shutting down: either way
            # what arrived is stored below.
            streaming.uncancel()
            if not self.cancel_requested:
                error = {
                    "code": "interrupted",
                    "message": "The server stopped while writing this reply.",
                }
        except TimeoutError:
            error = {
                "code": "timeout",
                "message": "The model took too long to answer."
                if not self.accumulator.content
                else "The model took too long; the reply was cut short.",
            }
        except ProviderError as exc:
            error = exc.as_dict()
        except Exception:
            logger.exception("Reply %s failed", self.reply_id)
            error = {"code": "internal_error", "message": "The reply failed on the server."}
        finally:
            self.streaming = False
            ReplyRunner.streaming_now -= 1
            replies.runners.pop(str(self.reply_id), None)
            if beating is not None:
                beating.cancel()
            if self.writing is not None:
                # The last checkpoint lands before the finish writes over it.
                await asyncio.gather(self.writing, return_exceptions=True)
        await self.publish()
        if self.cancel_requested:
            status, error = Message.Status.CANCELLED, None
        else:
            status, error = final_status(self.accumulator, error)
        return await database(self.finish)(status, error, claim_next=not replies.closing())


async def run_reply(reply_id, fresh: Message | None = None) -> Message | None:
    """Run one reply (`fresh`: as its turn created it), then the replies queued behind it
    in the same conversation, each started by the finish of the one before. A process
    shutting down leaves them queued, for a process that stays (its watcher) to run."""
    runner = ReplyRunner(reply_id, fresh)
    reply = await runner.run()
    while runner.following is not None:
        runner = ReplyRunner(runner.following.id)
        await runner.run()
    return reply


async def run_queued(conversation_id) -> None:
    """Run the conversation's queued replies in order, if none is running."""
    if replies.closing():
        return
    following = await database(services.reply_claim_next)(conversation_id=conversation_id)
    if following is not None:
        await run_reply(following.id)


async def reply_start(reply: Message, *, created: bool = True, wait: bool = False) -> None:
    """The one way a reply begins, however it was asked for (REST JSON or SSE, websocket,
    edit, reset): its run is handed to `replies`, which owns it.

    `created` False (a request replayed with the same Idempotency-Key) starts nothing. A
    queued reply starts only if nothing runs any more; otherwise the running reply's
    runner drains the queue. With `wait`, return once the run has ended: the waiter does
    not own the run, so a waiter cancelled (its client hung up) leaves the run going.
    """
    if not created:
        return
    if replies.closing():
        await database(services.reply_refuse)(reply_id=reply.id)
        return
    # With no server around (Django's test client, a shell), only the waiting caller
    # lives long enough to run the reply: it runs in the caller's context and thread.
    detached = not wait or replies.serving()
    if reply.status == Message.Status.IN_PROGRESS:
        task = replies.own(run_reply(reply.id, reply), detached=detached)
    elif reply.status == Message.Status.QUEUED:
        task = replies.own(run_queued(reply.conversation_id), detached=detached)
    else:
        return
    if wait:
        await asyncio.shield(task)


async def request_sync(reply_id, reply_to: str | None) -> None:
    """Ask the runner of `reply_id`, in whichever process it runs, for a snapshot sent to
    the channel `reply_to` (None: to every tab and stream)."""
    await replies.control(events.reply_control(events.REPLY_SYNC, reply_id, reply_to=reply_to))

"""Frames to the sockets and streams of this process directly, through the channel layer
only to those of other processes.

Every socket and stream has an `Inbox`, registered here under its conversation (and its
channel-layer channel). A frame for a conversation goes into the inboxes of this process
at once; it goes through the channel layer (Redis) only when the conversation's group
there has members of other processes, which then drop the copy their own members get
(`ORIGIN`). One server process with its tabs, the common case, sends no frame to Redis.
What goes through the channel layer is relayed beside that (`relay`): a slow or silent
Redis costs other processes' tabs frames (they catch up), never this process's tabs.
"""

import asyncio
import logging
import time
import uuid
from collections import defaultdict, deque

from channels.layers import InMemoryChannelLayer, get_channel_layer

from .outages import Outage, Silence

logger = logging.getLogger(__name__)

# Names this process in the frames it relays, so that it drops them when they come back.
ORIGIN = uuid.uuid4().hex
# A channel-layer call made for a request or a reply that takes longer has failed: Redis
# is away or silent (a partition answers nothing, and the layer's own socket timeout, 15 s
# for its blocking pops, is far too long to keep anyone waiting).
LAYER_TIMEOUT = 2.0
# After a call that timed out, calls fail at once for this long, then one tries again: a
# silent Redis costs one request or socket its LAYER_TIMEOUT every few seconds, not each.
_layer_silence = Silence(retry_after=5.0)
# How long a delta may go by an earlier answer to "does another process listen?": a
# socket of another process that joins meanwhile misses at most this much of the stream
# (its page syncs on the gap in `seq`). Other frames always ask afresh.
OTHERS_CHECK_INTERVAL = 1.0


class Inbox:
    """The frames for one socket or stream, in the order they were sent: those sent in
    this process and those the channel layer brings (`follow`)."""

    def __init__(self):
        self.queue = asyncio.Queue()
        self.loop = None  # the loop reading the inbox, once it reads
        self.pump = None

    def put(self, message: dict) -> None:
        loop = self.loop
        if loop is None or loop is _running_loop():
            self.queue.put_nowait(message)
        else:
            # A sender on another thread's event loop (a test server beside the test's).
            loop.call_soon_threadsafe(self.queue.put_nowait, message)

    async def get(self) -> dict:
        """The next message, once `follow` started moving the channel layer's along."""
        self.loop = asyncio.get_running_loop()
        return await self.queue.get()

    def follow(self, receive) -> None:
        """Move what `receive()` (the channel layer's channel) brings into the inbox,
        except frames this process sent (it delivered them itself)."""
        if self.pump is None:
            self.loop = asyncio.get_running_loop()
            self.pump = asyncio.create_task(self._move(receive))

    async def _move(self, receive) -> None:
        while True:
            message = await receive()
            if message.get("origin") != ORIGIN:
                self.put(message)

    async def close(self) -> None:
        """Stop following the channel layer."""
        if self.pump is not None:
            self.pump.cancel()
            await asyncio.gather(self.pump, return_exceptions=True)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_by_conversation: defaultdict[str, set[Inbox]] = defaultdict(set)
_by_channel: dict[str, Inbox] = {}


def listen(inbox: Inbox, conversation_id, channel: str | None) -> None:
    """Deliver the conversation's frames, and those sent to `channel`, into `inbox`."""
    _by_conversation[str(conversation_id)].add(inbox)
    if channel is not None:
        _by_channel[channel] = inbox


def forget(inbox: Inbox, conversation_id, channel: str | None) -> None:
    """Deliver nothing more into `inbox` (it may be forgotten twice)."""
    inboxes = _by_conversation.get(str(conversation_id))
    if inboxes is not None:
        inboxes.discard(inbox)
        if not inboxes:
            del _by_conversation[str(conversation_id)]
    if channel is not None and _by_channel.get(channel) is inbox:
        del _by_channel[channel]


def deliver(conversation_id, message: dict) -> None:
    """Put `message` into the inboxes of the conversation in this process."""
    for inbox in tuple(_by_conversation.get(str(conversation_id), ())):
        inbox.put(message)


def deliver_to_channel(channel: str, message: dict) -> bool:
    """Put `message` into the inbox of `channel` if it is in this process."""
    inbox = _by_channel.get(channel)
    if inbox is None:
        return False
    inbox.put(message)
    return True


# group -> (when asked, whether a channel of another process is in it)
_others: dict[str, tuple[float, bool]] = {}
# Past this many groups remembered, those asked about too long ago are forgotten.
OTHERS_REMEMBERED = 1000


def note_others(group: str) -> None:
    """A channel of another process is known to be in `group` (it asked for a sync)."""
    _remember(group, True)


def known_others(group: str, *, recent_will_do: bool = False) -> bool | None:
    """`others_listen` as known without asking the channel layer; None: not known."""
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        return False  # a layer of this process alone: its listeners are all here
    if recent_will_do and group in _others:
        asked, answer = _others[group]
        if time.monotonic() - asked < OTHERS_CHECK_INTERVAL:
            return answer
    return None


async def others_listen(group: str, *, recent_will_do: bool = False) -> bool:
    """Whether channels of other processes are in the channel layer's `group`.
    `recent_will_do`: an answer from the last `OTHERS_CHECK_INTERVAL` is good enough."""
    known = known_others(group, recent_will_do=recent_will_do)
    if known is not None:
        return known
    layer = get_channel_layer()
    prefix = getattr(layer, "client_prefix", None)
    if prefix is None:
        answer = True  # a layer whose channels we cannot tell apart: relay always
    else:
        # channels_redis keeps a group as a sorted set of channel names; this process's
        # names start with its layer's prefix (`RedisChannelLayer.new_channel`).
        connection = layer.connection(layer.consistent_hash(group))
        names = await connection.zrange(layer._group_key(group), 0, -1)
        own = f"specific.{prefix}!".encode()
        answer = any(not name.startswith(own) for name in names)
    _remember(group, answer)
    return answer


def _remember(group: str, answer: bool) -> None:
    now = time.monotonic()
    if len(_others) >= OTHERS_REMEMBERED:
        stale = [key for key, (asked, _) in _others.items() if now - asked >= OTHERS_CHECK_INTERVAL]
        for key in stale:
            del _others[key]
    _others[group] = (now, answer)


async def layer_call(call):
    """Await `call` (a coroutine of the channel layer) for at most LAYER_TIMEOUT, then
    TimeoutError, as any failure of the layer; at once while the layer is silent."""
    layer = get_channel_layer()
    if _layer_silence.silent(layer):
        call.close()
        raise TimeoutError("The channel layer has not answered lately.")
    try:
        async with asyncio.timeout(LAYER_TIMEOUT):
            return await call
    except TimeoutError:
        _layer_silence.heard_nothing(layer)
        raise


_relay_outage = Outage(
    logger,
    failed="The channel layer failed: other processes' tabs miss this process's frames "
    "until it is back (they catch up then).",
    back="The channel layer is back: this process's frames reach other processes again.",
)
# (event loop, conversation id) -> (what waits to be relayed, the task relaying it)
_relaying: dict[tuple, tuple[deque, asyncio.Task]] = {}


def relay(conversation_id, send) -> None:
    """Run the coroutine function `send` (frames of the conversation through the channel
    layer) after those relayed before it, without waiting for it: the caller goes on, its
    own process's frames already delivered. A relay that fails (`layer_call`) drops
    what waits behind it too; the tabs of other processes that miss frames catch up
    on the gap in `seq`, or when their socket reconnects."""
    loop = asyncio.get_running_loop()
    key = (loop, str(conversation_id))
    if key in _relaying:
        _relaying[key][0].append(send)
    else:
        waiting = deque([send])
        _relaying[key] = (waiting, loop.create_task(_relay_all(key, waiting)))


async def _relay_all(key: tuple, waiting: deque) -> None:
    try:
        while waiting:
            send = waiting.popleft()
            try:
                await layer_call(send())
            except Exception:  # whatever the layer raises when Redis is away, or the timeout
                waiting.clear()
                _relay_outage.began()
            else:
                _relay_outage.ended()
    finally:
        del _relaying[key]


async def relays_finished() -> None:
    """Wait for the frames this event loop is relaying (a server shutting down: the last
    frames of its replies still reach other processes)."""
    loop = asyncio.get_running_loop()
    tasks = [task for (relaying_loop, _), (_, task) in _relaying.items() if relaying_loop is loop]
    await asyncio.gather(*tasks, return_exceptions=True)

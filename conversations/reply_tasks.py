"""The process's running replies: the tasks it owns, the event loop it serves on, how a
reply's database steps run (on worker threads in the tasks it owns), and how control
messages (cancel, sync) reach a runner in whichever process it runs.

A process that serves listens on one control channel of the channel layer, a member of
`events.RUNNERS_GROUP`. A control message goes to a runner of this process directly,
and to the group otherwise, where only the process running the reply acts on it: a
reply costs the channel layer nothing unless it is cancelled or synced from elsewhere.
"""

import asyncio
import contextvars
import functools
import logging
import threading
import time
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from . import events, fanout
from .db import run_step
from .outages import Outage

if TYPE_CHECKING:
    from .generation import ReplyRunner

logger = logging.getLogger(__name__)

# How long the control channel waits before listening again after the layer failed...
LAYER_RETRY_DELAY = 1.0
# ...and how often it renews its membership of the group, which the layer expires
# (channels_redis after a day) and loses with a Redis restart.
GROUP_RENEW_INTERVAL = 60.0

_layer_outage = Outage(
    logger,
    failed="The channel layer failed: replies here hear no cancel or sync from elsewhere.",
    back="The channel layer is back: replies here hear other processes again.",
)

# True in the tasks the server owns (see `Replies`): their database steps run on worker
# threads; elsewhere (a caller that waits on the reply it runs) on the caller's thread.
_detached = contextvars.ContextVar("reply_detached", default=False)


def detached_context() -> contextvars.Context:
    """A fresh context for a task the server owns."""
    context = contextvars.Context()
    context.run(_detached.set, True)
    return context


def database(function):
    """`function` as an awaitable database step of a reply: on a worker thread, its
    connection given back after each step, in a task the server owns; on the caller's
    thread (and transaction) otherwise."""
    if _detached.get():
        return functools.partial(run_step, function)
    return sync_to_async(function)


class Replies:
    """The process's running replies: starts them as tasks it owns, and cancels them
    all on shutdown, so no reply depends on the socket or request that started it."""

    def __init__(self):
        self.tasks: set[asyncio.Task] = set()
        self.server_loop = None  # the event loop of the ASGI server, while it serves
        self.closing_loop = None  # the event loop of a server shutting down
        self.process = None  # this server process, as recorded while it serves
        self.beating = threading.Event()  # set: this process's heartbeat stops
        self.runners: dict[str, ReplyRunner] = {}  # the replies streaming here, by id
        self.listening = None  # (layer, channel): this process's control channel, if any

    def own(self, coroutine, *, detached: bool = True) -> asyncio.Task:
        """Run `coroutine` as a task this registry owns."""
        # Detached, in a fresh context: nothing of the request or socket that started
        # the reply (asgiref's per-request thread, above all) may outlive it in the reply.
        # Attached, it runs in the caller's context, thread and connection.
        context = detached_context() if detached else contextvars.copy_context()
        task = asyncio.get_running_loop().create_task(coroutine, context=context)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def forget_server(self) -> None:
        """Stop this process's heartbeat and forget the server it ran as, which has
        stopped: the process may serve again (as tests do)."""
        self.beating.set()
        self.process = None
        self.beating = threading.Event()
        self.server_loop = self.closing_loop = None

    def closing(self) -> bool:
        """True on the event loop of a server shutting down: no reply starts there."""
        return self.closing_loop is asyncio.get_running_loop()

    def serving(self) -> bool:
        """True on the ASGI server's event loop, which outlives any request."""
        return self.server_loop is asyncio.get_running_loop()

    async def shutdown(self) -> None:
        """Cancel the replies running on this event loop and wait for them to be stored.
        Replies of other loops of the process (a test's, another server's) go on."""
        loop = asyncio.get_running_loop()
        ours = [task for task in self.tasks if task.get_loop() is loop]
        for task in ours:
            task.cancel()
        await asyncio.gather(*ours, return_exceptions=True)

    async def control(self, message: dict) -> None:
        """Deliver a control message (`events.reply_control`) to the runner of its reply:
        directly when it runs in this process, else through the channel layer to every
        serving process, of which the one running it acts."""
        if self._to_runner_here(message):
            return
        try:
            await fanout.layer_call(get_channel_layer().group_send(events.RUNNERS_GROUP, message))
        except Exception:
            # Lost to an outage: a cancel is stored, and its runner finds it at its next
            # checkpoint; a tab that asked for a sync asks again when it reconnects.
            _layer_outage.began()

    def _to_runner_here(self, message: dict) -> bool:
        """Hand a control message to its reply's runner if it runs in this process."""
        runner = self.runners.get(message.get("reply_id"))
        if runner is None:
            return False
        runner.control(message)
        return True

    async def listen(self) -> None:
        """Pass the control messages of other processes to this process's runners, until
        told to stop (`stop_listening`), through channel-layer outages."""
        layer = get_channel_layer()
        channel = await layer.new_channel()
        self.listening = (layer, channel)
        joined = None
        try:
            while True:
                try:
                    if joined is None or time.monotonic() - joined >= GROUP_RENEW_INTERVAL:
                        await layer.group_add(events.RUNNERS_GROUP, channel)
                        joined = time.monotonic()
                    message = await asyncio.wait_for(
                        layer.receive(channel), timeout=GROUP_RENEW_INTERVAL
                    )
                except TimeoutError:
                    continue
                except Exception:
                    _layer_outage.began()
                    joined = None
                    await asyncio.sleep(LAYER_RETRY_DELAY)
                    continue
                _layer_outage.ended()
                if message["type"] == events.REPLY_STOP:
                    return
                self._to_runner_here(message)
        finally:
            self.listening = None
            try:
                await layer.group_discard(events.RUNNERS_GROUP, channel)
            except Exception:
                logger.debug("The control channel left its group with the layer down")

    async def stop_listening(self, listener: asyncio.Task) -> None:
        """End `listen` with a message rather than a cancel: cancelling a pending
        channels_redis receive leaves its blocking pop behind, and the event loop's
        shutdown waits for it (the layer's pop timeout)."""
        if self.listening is not None and not listener.done():
            layer, channel = self.listening
            try:
                await layer.send(channel, events.reply_control(events.REPLY_STOP))
                await asyncio.wait_for(asyncio.shield(listener), timeout=1)
            except Exception:
                logger.debug("The control channel did not stop by itself")
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


replies = Replies()


def control_on_commit(message: dict) -> None:
    """Deliver a control message (`Replies.control`) once the current transaction
    commits; a channel layer that fails is logged, not raised (a runner that misses a
    cancel still finds it at its next checkpoint)."""
    events.run_on_commit(replies.control, message)

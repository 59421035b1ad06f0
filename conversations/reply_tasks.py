"""The process's running replies: the tasks it owns, the event loop it serves on, and
how a reply's database steps run (on worker threads in the tasks it owns)."""

import asyncio
import contextvars
import functools
import threading
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async

from .db import run_step

if TYPE_CHECKING:
    from .generation import ReplyRunner

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


replies = Replies()

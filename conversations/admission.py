"""How many requests run their synchronous part at once.

Under ASGI, Django runs each request's synchronous middleware and view on a thread of
its own. A thousand requests at once are a thousand runnable threads sharing one
interpreter lock and ten database connections: a request holding a connection crawls,
and one that waited past the pool's timeout queues again at the back. Admitting about
as many requests as the pool has connections, in the order they came, keeps the rest
waiting on the event loop, where waiting costs nothing.

A request leaves at once when its response starts (a stream goes on without it) or
when it gives its database connection back to wait (`db.release_connection`: a whole
`continue` waiting on its reply).
"""

import asyncio
import contextvars
import weakref

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

# The admission of the request being served, seen from its threads too (asgiref copies
# the context into them).
_current = contextvars.ContextVar("admission", default=None)

# One gate per event loop (a server has one; tests start several).
_gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Admission:
    """One request's place among those admitted; `leave` gives it back, once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, gate: asyncio.Semaphore):
        self.loop, self.gate, self.left = loop, gate, False

    def leave(self) -> None:
        if self.left or self.loop.is_closed():
            return
        self.left = True
        self.loop.call_soon_threadsafe(self.gate.release)


def leave() -> None:
    """Let the next waiting request in: the current one needs no more database work
    before its response (it waits on a reply, or streams)."""
    admission = _current.get()
    if admission is not None:
        admission.leave()


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _gates:
        _gates[loop] = asyncio.Semaphore(settings.REQUESTS_AT_ONCE)
    return _gates[loop]


class AdmissionMiddleware:
    """Admit at most REQUESTS_AT_ONCE requests into the middleware and views after this
    one; the others wait their turn in order. Under WSGI the server's threads already
    bound them: requests pass."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._admitted(request)
        return self.get_response(request)

    async def _admitted(self, request):
        gate = _gate()
        await gate.acquire()
        admission = Admission(asyncio.get_running_loop(), gate)
        token = _current.set(admission)
        try:
            return await self.get_response(request)
        finally:
            admission.leave()
            _current.reset(token)

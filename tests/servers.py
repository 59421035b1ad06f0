"""Server processes for tests that need more than one process, or one to break."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
from django.conf import settings

from conversations.models import Message
from tests.conftest import free_port


def database_url(*, host: str = "", port: int = 0) -> str:
    """The URL of the test database, reached at `host`:`port` when given (a proxy)."""
    database = settings.DATABASES["default"]
    return (
        f"postgres://{database['USER']}@{host or database['HOST']}:{port or database['PORT']}/"
        f"{database['NAME']}"
    )


@contextmanager
def server_process(*, port: int = 0, **env: str):
    """A uvicorn server of chatproject.asgi in its own process, on the test database and
    Redis unless `env` says otherwise, on `port` if given (a server restarted where its
    clients reconnect), else a free one; yields (its URL, the process)."""
    port = port or free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        **env,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "chatproject.asgi:application", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(server.stderr.read().decode()) from None
            time.sleep(0.1)
    try:
        yield url, server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


def wait_until_finished(reply_id, seconds: float = 20) -> Message:
    """The reply once a server has ended it (polled in the database)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = Message.objects.get(id=reply_id)
        if reply.is_finished:
            return reply
        time.sleep(0.05)
    raise AssertionError("the reply did not finish")

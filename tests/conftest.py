import contextlib
import socket
import threading
import time

import psycopg
import pytest
import uvicorn
from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from rest_framework.test import APIClient

from conversations.reply_tasks import replies

# The `fake_openai` fixture: a real HTTP server speaking the OpenAI wire formats; the
# `mcp_servers` fixture: real MCP servers configured for a test.
pytest_plugins = ["tests.fake_openai", "tests.mcp_servers"]


def pytest_report_header(config):
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        db_line = f"database: PostgreSQL at {database['HOST']}:{database['PORT']}"
    else:
        db_line = "database: SQLite (fallback: PostgreSQL not configured or not reachable)"
    if settings.REDIS_URL:
        layer_line = f"channel layer: Redis at {settings.REDIS_URL}"
    else:
        layer_line = "channel layer: in-memory (fallback: Redis not configured or not reachable)"
    return [db_line, layer_line]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, left by every connection of this process before
    they are dropped: a pooled connection or one a worker thread still holds would make
    PostgreSQL refuse to drop the database (a warning at the end of every run)."""
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql":
                continue
            connection.close_pool()
            with psycopg.connect(**connection.get_connection_params(), autocommit=True) as own:
                own.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets channel layers of its own: a test that fails with a read pending on
    the layer leaves it locked to that test's event loop, and every later test that used
    the same layer object would fail too."""
    yield
    channel_layers.backends.clear()


@pytest.fixture
async def running_replies():
    """Every reply started by a test is finished or cancelled before the next test."""
    yield replies
    await replies.shutdown()


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password="alice-password")


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", password="bob-password")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "staff", password="staff-password", is_staff=True, is_superuser=True
    )


@pytest.fixture
def anon():
    """An API client with no session and no token."""
    return APIClient()


@pytest.fixture
def api(alice):
    """Alice's browser session, CSRF checks off (tests/api/test_schema_auth.py checks them)."""
    client = APIClient()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_api(bob):
    client = APIClient()
    client.force_login(bob)
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_url(transactional_db):
    """Serve chatproject.asgi on a free loopback port for one test."""
    from chatproject.asgi import application

    port = free_port()
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("The test server did not start.")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    if thread.is_alive():
        # A connection still open keeps uvicorn waiting: stop without waiting for it, or
        # the server (its watcher, its replies) outlives its test and meddles with the next.
        server.force_exit = True
        thread.join(timeout=10)
    # Stopped without its shutdown, it leaves this process as it was while serving (its
    # record, which the test database loses, in every later test's replies).
    replies.forget_server()


@pytest.fixture
def server_process(transactional_db):
    """Start server processes (`tests.servers.server_process`), each stopped after the test:
    `start(**env)` returns (url, process)."""
    from tests.servers import server_process as serve  # it imports this module

    with contextlib.ExitStack() as stack:
        yield lambda **env: stack.enter_context(serve(**env))

"""What the bench scripts share: Django on the production settings with a throwaway
database, logged-in tabs on the ASGI application, and a model that writes tokens at a set
rate.

Uses PostgreSQL and Redis on 127.0.0.1, the production shape; DATABASE_URL and REDIS_URL
choose others.
"""

import asyncio
import os
import sys
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chatproject")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["DEBUG"] = "0"
os.environ.setdefault("LLM_MODEL", "bench-tokens")  # the name stored on replies

import django

django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from channels.testing import WebsocketCommunicator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from chatproject.asgi import application  # noqa: E402
from conversations import llm, services  # noqa: E402
from conversations.llm.base import Finish, Provider, TextDelta  # noqa: E402


class Tokens(Provider):
    """A model that writes `count` tokens, `rate` a second."""

    def __init__(self, count, rate):
        self.count = count
        self.pause = 1 / rate

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        for index in range(self.count):
            yield TextDelta(f"t{index} ")
            await asyncio.sleep(self.pause)
        yield Finish("stop")


def model(count, rate):
    """While in effect, every reply is written by a `Tokens` model."""
    return patch.object(llm, "get_provider", lambda name=None: Tokens(count, rate))


@sync_to_async
def _session_cookie(user) -> bytes:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


async def conversation_with_tabs(user, tabs: int):
    """A new conversation open in `tabs` logged-in tabs, and a reply stored in it, not yet
    started: (tabs, reply)."""
    conversation = await sync_to_async(services.conversation_create)(owner=user, title="bench")
    headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]
    headers.append((b"cookie", await _session_cookie(user)))
    opened = []
    for _ in range(tabs):
        tab = WebsocketCommunicator(
            application, f"/ws/conversations/{conversation.id}/", headers=headers
        )
        connected, _ = await tab.connect()
        if not connected:
            raise RuntimeError("The bench tab could not connect.")
        opened.append(tab)
    reply, _ = await sync_to_async(services.message_continue)(
        conversation=conversation, content="Go"
    )
    return opened, reply


def run(main, *args) -> None:
    """Run the coroutine `main(*args)` against a test database created for it."""
    config = setup_databases(verbosity=0, interactive=False)
    try:
        asyncio.run(main(*args))
    finally:
        teardown_databases(config, verbosity=0)


def arguments(*defaults):
    """The command line's arguments, each of the type of its default, or the defaults."""
    given = sys.argv[1:]
    return [
        type(default)(given[i]) if i < len(given) else default for i, default in enumerate(defaults)
    ]

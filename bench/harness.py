"""What the bench scripts share: Django on the test settings, a throwaway database, and a
model that writes tokens at a set rate.

Uses PostgreSQL and Redis when they answer on 127.0.0.1 (as the tests do), else SQLite and
the in-memory layer.
"""

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.test.utils import setup_databases, teardown_databases  # noqa: E402

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

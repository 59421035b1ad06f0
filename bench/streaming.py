"""What batching buys: one long reply streamed to three tabs, as shipped (deltas coalesced,
text written in batches) against a baseline in the same run that sends one frame and writes
the text once per token. The model writes TOKENS tokens at RATE tokens a second. Prints the
time from the first to the last token on the tabs, frames, database writes, and the ratios.

    .venv/bin/python bench/streaming.py [TOKENS] [RATE]

Uses PostgreSQL and Redis when they answer on 127.0.0.1 (as the tests do), else SQLite and
the in-memory layer; a throwaway test database is created and dropped.
"""

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from conversations import generation, services  # noqa: E402
from conversations.llm.base import Finish, Provider, TextDelta  # noqa: E402
from tests.websocket import open_socket  # noqa: E402

TABS = 3


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


async def one_reply(user, tokens: int, rate: float) -> dict:
    conversation = await sync_to_async(services.conversation_create)(owner=user, title="bench")
    tabs = [(await open_socket(conversation.id, user))[1] for _ in range(TABS)]
    reply, _ = await sync_to_async(services.message_continue)(
        conversation=conversation, content="Go"
    )
    writes = []

    def count(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(sql)
        return execute(sql, params, many, context)

    async def listen(tab):
        frames = 0
        while True:
            frame = await tab.receive_json_from(timeout=120)
            frames += frame["type"] == "message.delta"
            if frame["type"] in ("message.completed", "message.failed"):
                return frames

    wrapper = await sync_to_async(lambda: connection.execute_wrapper(count))()
    await sync_to_async(wrapper.__enter__)()
    started = time.perf_counter()
    listeners = [asyncio.create_task(listen(tab)) for tab in tabs]
    await generation.run_reply(reply.id, provider=Tokens(tokens, rate))
    frames = await asyncio.gather(*listeners)
    seconds = time.perf_counter() - started
    await sync_to_async(wrapper.__exit__)(None, None, None)
    for tab in tabs:
        await tab.disconnect()
    return {"seconds": seconds, "frames": frames[0], "writes": len(writes)}


async def main(tokens: int, rate: float) -> None:
    user = await sync_to_async(get_user_model().objects.create_user)("bench", password="x")
    shipped = (
        generation.COALESCE_INTERVAL,
        generation.PROCESS_FRAMES_PER_SECOND,
        generation.CHECKPOINT_INTERVAL,
    )
    await one_reply(user, 50, rate)  # warm up connections and imports
    generation.COALESCE_INTERVAL, generation.PROCESS_FRAMES_PER_SECOND = 0, float("inf")
    generation.CHECKPOINT_INTERVAL = 0
    baseline = await one_reply(user, tokens, rate)
    (
        generation.COALESCE_INTERVAL,
        generation.PROCESS_FRAMES_PER_SECOND,
        generation.CHECKPOINT_INTERVAL,
    ) = shipped
    batched = await one_reply(user, tokens, rate)
    await sync_to_async(connections.close_all)()

    print(f"one reply of {tokens} tokens at {rate:g}/s to {TABS} tabs ({connection.vendor}, "
          f"{type(generation.get_channel_layer()).__name__})")  # fmt: skip
    print(f"{'':24}{'seconds':>10}{'frames':>10}{'db writes':>11}")
    for name, row in (("per token (baseline)", baseline), ("batched (shipped)", batched)):
        print(f"{name:24}{row['seconds']:>10.2f}{row['frames']:>10}{row['writes']:>11}")
    print(
        f"ratios baseline/shipped: time {baseline['seconds'] / batched['seconds']:.1f}x, "
        f"frames {baseline['frames'] / max(batched['frames'], 1):.0f}x, "
        f"writes {baseline['writes'] / max(batched['writes'], 1):.0f}x"
    )


if __name__ == "__main__":
    config = setup_databases(verbosity=0, interactive=False)
    try:
        tokens = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
        rate = float(sys.argv[2]) if len(sys.argv) > 2 else 500
        asyncio.run(main(tokens, rate))
    finally:
        teardown_databases(config, verbosity=0)

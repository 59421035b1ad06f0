"""Many replies streaming at once in one process, one tab each: frames coalesced by load
(shipped) against a baseline in the same run that keeps the single-reply interval
whatever the load. Prints, for each, the seconds until the tabs had every reply's end,
the frames sent, and the tabs that never heard the end (their frames were dropped by a
channel layer past capacity), then the ratios.

    .venv/bin/python bench/concurrency.py [REPLIES] [TOKENS] [RATE]

See harness.py for the database and channel layer it uses.
"""

import asyncio
import statistics
import time
from unittest.mock import patch

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection, connections
from harness import arguments, conversation_with_tabs, model, run

from conversations import generation

# How long a tab may wait for a reply's end after its runner finished.
GRACE = 10


async def watch(tab) -> tuple[int, float | None]:
    """Frames until the reply's end, and when the end came (None: never)."""
    frames = 0
    while True:
        try:
            frame = await tab.receive_json_from(timeout=GRACE)
        except TimeoutError:
            return frames, None  # the test communicator has ended the socket
        frames += 1
        if frame["type"] in ("message.completed", "message.failed"):
            ended = time.perf_counter()
            await tab.disconnect()
            return frames, ended


async def at_once(user, replies: int, tokens: int, rate: float) -> dict:
    opened = [await conversation_with_tabs(user, 1) for _ in range(replies)]
    started = time.perf_counter()
    watchers = [asyncio.create_task(watch(tabs[0])) for tabs, _ in opened]
    with model(tokens, rate):
        await asyncio.gather(*(generation.reply_start(reply, wait=True) for _, reply in opened))
    seen = await asyncio.gather(*watchers)
    ends = [end - started for _, end in seen if end is not None]
    return {
        "median": statistics.median(ends) if ends else float("nan"),
        "last": max(ends) if ends else float("nan"),
        "frames": sum(frames for frames, _ in seen),
        "stuck": sum(end is None for _, end in seen),
    }


async def main(replies: int, tokens: int, rate: float) -> None:
    user = await sync_to_async(get_user_model().objects.create_user)("bench", password="x")
    await at_once(user, 2, 50, rate)  # warm up connections and imports
    with patch.object(generation, "PROCESS_FRAMES_PER_SECOND", float("inf")):
        baseline = await at_once(user, replies, tokens, rate)
    adaptive = await at_once(user, replies, tokens, rate)
    await sync_to_async(connections.close_all)()

    print(f"{replies} replies of {tokens} tokens at {rate:g}/s at once, one tab each "
          f"({connection.vendor}, {type(generation.get_channel_layer()).__name__}); "
          f"one alone takes {tokens / rate:.1f} s")  # fmt: skip
    print(f"{'':26}{'median s':>10}{'last s':>10}{'frames':>10}{'stuck tabs':>12}")
    for name, row in (("fixed interval (baseline)", baseline), ("by load (shipped)", adaptive)):
        print(f"{name:26}{row['median']:>10.2f}{row['last']:>10.2f}{row['frames']:>10}"
              f"{row['stuck']:>12}")  # fmt: skip
    print(
        f"ratios baseline/shipped: frames {baseline['frames'] / max(adaptive['frames'], 1):.1f}x, "
        f"median time {baseline['median'] / adaptive['median']:.2f}x"
    )


if __name__ == "__main__":
    run(main, *arguments(50, 300, 100.0))

"""What batching buys: one long reply streamed to three tabs, as shipped (deltas coalesced,
text written in batches) against a baseline in the same run that sends one frame and writes
the text once per token. The model writes TOKENS tokens at RATE tokens a second. Prints the
time from the first to the last token on the tabs, frames, database writes, and the ratios.

    .venv/bin/python bench/streaming.py [TOKENS] [RATE]

See harness.py for the database and channel layer it uses.
"""

import asyncio
import time
from unittest.mock import patch

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection, connections
from harness import arguments, conversation_with_tabs, model, run

from conversations import generation

TABS = 3


async def one_reply(user, tokens: int, rate: float) -> dict:
    tabs, reply = await conversation_with_tabs(user, TABS)
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
    with model(tokens, rate):
        await generation.reply_start(reply, wait=True)
    frames = await asyncio.gather(*listeners)
    seconds = time.perf_counter() - started
    await sync_to_async(wrapper.__exit__)(None, None, None)
    for tab in tabs:
        await tab.disconnect()
    return {"seconds": seconds, "frames": frames[0], "writes": len(writes)}


async def main(tokens: int, rate: float) -> None:
    user = await sync_to_async(get_user_model().objects.create_user)("bench", password="x")
    await one_reply(user, 50, rate)  # warm up connections and imports
    per_token = {
        "COALESCE_INTERVAL": 0,
        "PROCESS_FRAMES_PER_SECOND": float("inf"),
        "CHECKPOINT_INTERVAL": 0,
    }
    with patch.multiple(generation, **per_token):
        baseline = await one_reply(user, tokens, rate)
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
    run(main, *arguments(2000, 500.0))

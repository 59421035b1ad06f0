"""The life of a server process: its record and heartbeat, the look for replies orphaned
by dead processes, and the ASGI lifespan that starts and ends them.

Each process records itself (`ServerProcess`) and beats once a second from a thread of
its own; the replies it runs name it. Every process ends, every few seconds, the
replies of processes silent for `PROCESS_STALE_AFTER` (they died), and starts the
queues nothing runs.
"""

import asyncio
import logging
import os
import socket
import threading
from datetime import timedelta

from django.db import connection

from . import fanout, services
from .generation import run_queued
from .llm.openai_client import close_clients
from .mcp import hub
from .reply_tasks import database, detached_context, replies

logger = logging.getLogger(__name__)

# A server process shows it is alive this often...
PROCESS_HEARTBEAT_INTERVAL = 1.0
# ...and one silent for this long has died: its replies end `incomplete`. Processes look
# for such replies this often.
PROCESS_STALE_AFTER = timedelta(seconds=5)
RECOVER_INTERVAL = 2.0
# A reply run outside a server process (no heartbeat) is an orphan when silent this long.
STALE_AFTER = timedelta(seconds=45)


def beat(process, stop: threading.Event) -> None:
    """Keep `process`'s heartbeat until `stop` is set, from a thread of its own: however
    busy the event loop (or the database steps of its replies), a live process is never
    taken for a dead one."""
    while not stop.wait(PROCESS_HEARTBEAT_INTERVAL):
        try:
            services.server_process_beat(process=process)
        except Exception:
            logger.warning("The heartbeat of this process failed", exc_info=True)
        finally:
            connection.close()


async def recover() -> None:
    """Mark replies orphaned by a dead process `incomplete` and start their queues."""
    conversation_ids = await database(services.replies_recover_stale)(
        silent_for=STALE_AFTER, process_silent_for=PROCESS_STALE_AFTER, alive=replies.process
    )
    for conversation_id in set(conversation_ids):
        replies.own(run_queued(conversation_id))


async def watch() -> None:
    """While the server serves: record this process and keep its heartbeat, and look for
    replies orphaned by dead processes at start-up, then every few seconds."""
    while True:
        try:
            if replies.process is None:
                replies.process = await database(services.server_process_register)(
                    host=socket.gethostname(), pid=os.getpid()
                )
                threading.Thread(
                    target=beat, args=(replies.process, replies.beating), daemon=True
                ).start()
            await recover()
        except Exception:
            logger.exception("Looking for orphaned replies failed")
        await asyncio.sleep(RECOVER_INTERVAL)


async def lifespan(scope, receive, send) -> None:
    """ASGI lifespan: watch for orphaned replies and listen for control messages while
    serving; cancel replies on shutdown.
    MCP sessions open at start-up and close at shutdown."""
    watcher = listener = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            replies.server_loop = asyncio.get_running_loop()
            watcher = asyncio.create_task(watch(), context=detached_context())
            listener = asyncio.create_task(replies.listen(), context=detached_context())
            hub.start()  # MCP sessions open now, not in the first reply that needs them
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if watcher is not None:
                watcher.cancel()
            # Replies running here end `incomplete` with what arrived; queued ones stay
            # queued for another process; new ones are refused.
            replies.closing_loop = asyncio.get_running_loop()
            try:
                await replies.shutdown()
                await fanout.relays_finished()
                if listener is not None:
                    await replies.stop_listening(listener)
                await close_clients()
                if replies.process is not None:
                    replies.beating.set()
                    await database(services.server_process_retire)(process=replies.process)
            finally:
                replies.forget_server()
                await asyncio.to_thread(hub.stop)
            await send({"type": "lifespan.shutdown.complete"})
            return

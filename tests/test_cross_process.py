"""Two server processes share replies through Redis and PostgreSQL: one runs a reply,
the other's tabs see it stream and can stop it, and end it if the first process dies."""

import asyncio
import json
import signal
import time

import httpx
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework.authtoken.models import Token

from conversations.llm.demo import demo_reply
from conversations.models import Message
from tests.factories import make_conversation
from tests.servers import server_process
from tests.websocket import open_socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.REDIS_URL
        or not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="needs PostgreSQL and Redis, which several processes can share (CI has both)",
    ),
]


@pytest.fixture
def other_process(db):
    """A second server process (uvicorn) on the test database and the same Redis."""
    with server_process(DEMO_STREAM_DELAY="0.03") as (url, _process):
        yield url


async def test_a_reply_run_by_another_process_streams_to_this_one_and_stops_from_here(
    other_process, alice
):
    conversation = await database_sync_to_async(make_conversation)(alice)
    token = await database_sync_to_async(Token.objects.create)(user=alice)
    _, tab = await open_socket(conversation.id, alice)  # served by this process

    async with httpx.AsyncClient(
        base_url=other_process, headers={"Authorization": f"Token {token.key}"}, timeout=20
    ) as http:
        started = asyncio.create_task(
            http.post(
                f"/api/conversations/{conversation.id}/continue/",
                json={"content": "Across processes", "stream": True},
            )
        )
        frames = []
        while not (frames and frames[-1]["type"] == "message.delta" and frames[-1]["seq"] >= 3):
            frames.append(await tab.receive_json_from(timeout=20))
        reply_id = frames[-1]["message_id"]
        assert [f["seq"] for f in frames if f["type"] == "message.delta"] == [1, 2, 3]

        await tab.send_json_to({"type": "generation.cancel", "message_id": reply_id})
        response = await started
    assert response.status_code == 200
    assert '"status": "cancelled"' in response.text

    reply = await database_sync_to_async(Message.objects.get)(id=reply_id)
    assert reply.status == "cancelled"
    await tab.disconnect()


def stored_text(reply_id) -> str:
    reply = Message.objects.get(id=reply_id)
    return "".join(item.text for item in reply.content.all() if item.type == "output_text")


def test_a_reply_whose_process_was_killed_is_ended_by_another_with_what_arrived(alice):
    conversation = make_conversation(alice)
    token = Token.objects.create(user=alice)
    with (
        server_process(DEMO_STREAM_DELAY="0.05") as (doomed_url, doomed),
        server_process() as (_survivor_url, _survivor),
        httpx.stream(
            "POST",
            f"{doomed_url}/api/conversations/{conversation.id}/continue/",
            json={"content": "Do not stop", "stream": True},
            headers={"Authorization": f"Token {token.key}"},
            timeout=20,
        ) as response,
    ):
        frames = (json.loads(line[6:]) for line in response.iter_lines() if line[:6] == "data: ")
        reply_id = next(f for f in frames if f["type"] == "message.delta")["message_id"]
        deadline = time.monotonic() + 20
        while not stored_text(reply_id):  # the reply's first batch reached the database
            assert time.monotonic() < deadline, "the reply was never written"
            time.sleep(0.1)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        arrived = stored_text(reply_id)
        assert Message.objects.get(id=reply_id).status == "in_progress"

        # Found within seconds (the dead process's heartbeat stops), not the 45 s of a
        # reply's own silence.
        deadline = time.monotonic() + 15
        while (reply := Message.objects.get(id=reply_id)).status == "in_progress":
            assert time.monotonic() < deadline, "no process ended the orphaned reply"
            time.sleep(0.2)

    assert reply.status == "incomplete"
    assert reply.error["code"] == "interrupted"
    assert stored_text(reply_id) == arrived
    assert demo_reply("Do not stop").startswith(arrived)

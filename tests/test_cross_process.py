"""Two server processes share replies through Redis: one runs a reply, the other's tabs
see it stream and can stop it."""

import asyncio

import httpx
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework.authtoken.models import Token

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

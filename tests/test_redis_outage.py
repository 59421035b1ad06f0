"""With Redis away (the cache and the channel layer), chat keeps working, degraded: replies
are counted per process, sockets open without hearing other processes, replies complete."""

import asyncio
import copy
import logging
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from rest_framework.authtoken.models import Token

import chatproject.settings
from conversations import events
from conversations.models import Message
from conversations.reply_tasks import replies
from conversations.throttling import GenerationThrottle, Throttled, check_generation_rate
from tests.conftest import free_port
from tests.factories import make_conversation
from tests.tcp_proxy import CuttableProxy
from tests.websocket import open_socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs Redis (REDIS_URL)"),
]


def point_redis_at(settings, *, cache: str, layer: str) -> None:
    """The production cache and channel layer settings, their Redis at other addresses."""
    caches = copy.deepcopy(chatproject.settings.CACHES)
    caches["default"]["LOCATION"] = cache
    caches["default"]["KEY_PREFIX"] = f"test-{free_port()}"
    settings.CACHES = caches
    layers = copy.deepcopy(chatproject.settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"][0]["address"] = layer
    settings.CHANNEL_LAYERS = layers


def nothing_listens() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def redis_down(settings):
    """Nothing listens where the cache and the channel layer look for Redis."""
    settings.CHAT_GENERATION_RATE = "30/min"
    point_redis_at(settings, cache=nothing_listens(), layer=nothing_listens())


@pytest.fixture
def silent_redis():
    """A Redis that takes connections and never answers (a hung server): its address."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def continue_over_http(server_url, user, content):
    """POST a JSON continue to the live server; the response (a server that hangs fails
    the test when the client gives up, not the whole run)."""
    conversation = make_conversation(user)
    token = Token.objects.create(user=user)
    return httpx.post(
        f"{server_url}/api/conversations/{conversation.id}/continue/",
        json={"content": content},
        headers={"Authorization": f"Token {token.key}"},
        timeout=30,
    )


def test_with_redis_unreachable_a_json_continue_completes(redis_down, server_url, alice):
    response = continue_over_http(server_url, alice, "Still there?")
    assert response.status_code == 200, response.text
    reply = response.json()["messages"][-1]
    assert reply["status"] == "completed"
    assert Message.objects.get(id=reply["id"]).status == "completed"


def test_a_cache_that_never_answers_does_not_hold_up_a_continue(
    settings, silent_redis, server_url, alice
):
    settings.CHAT_GENERATION_RATE = "30/min"
    point_redis_at(settings, cache=silent_redis, layer=nothing_listens())
    response = continue_over_http(server_url, alice, "Anyone?")
    assert response.status_code == 200, response.text
    assert response.json()["messages"][-1]["status"] == "completed"


async def test_turns_do_not_each_wait_for_a_cache_that_stopped_answering(
    settings, silent_redis, alice
):
    settings.CHAT_GENERATION_RATE = "30/min"
    point_redis_at(settings, cache=silent_redis, layer=nothing_listens())
    # Long enough to tell a turn that waits for the cache from one that does not.
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["OPTIONS"] = {"socket_connect_timeout": 4, "socket_timeout": 4}
    settings.CACHES = caches
    count_one = database_sync_to_async(check_generation_rate)

    await asyncio.wait_for(count_one(alice), timeout=10)
    # The cache did not answer the first: for a while, the next count in the process.
    for _ in range(3):
        await asyncio.wait_for(count_one(alice), timeout=2)


async def test_with_redis_unreachable_the_socket_opens_and_streams_its_replies(redis_down, alice):
    conversation = await database_sync_to_async(make_conversation)(alice)
    connected, tab = await open_socket(conversation.id, alice)
    assert connected
    await tab.send_json_to({"type": "message.create", "content": "Hello anyway"})
    # The reply runs in this process: its frames reach the socket without Redis.
    streamed = ""
    async with asyncio.timeout(20):
        while (frame := await tab.receive_json_from(timeout=10))["type"] != "message.completed":
            if frame["type"] == "message.delta" and frame["item_type"] == "output_text":
                streamed += frame["delta"]
    reply = await Message.objects.aget(id=frame["message"]["id"])
    assert reply.status == "completed"
    stored = [item.text async for item in reply.content.filter(type="output_text")]
    assert streamed == "".join(stored) != ""
    # The socket still serves its page: a sync answers with the stored reply.
    await tab.send_json_to({"type": "sync", "message_id": str(reply.id)})
    frame = await tab.receive_json_from(timeout=10)
    assert frame["type"] == "message.completed"
    assert frame["message"]["id"] == str(reply.id)
    await tab.disconnect()
    await replies.shutdown()


@pytest.fixture
async def redis_behind_a_proxy(settings):
    """The cache and the channel layer reach Redis through a line the test can cut."""
    url = urlsplit(settings.REDIS_URL)
    proxy = await CuttableProxy(url.hostname, url.port or 6379).start()
    proxied = url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    point_redis_at(settings, cache=proxied, layer=proxied)
    yield proxy
    await get_channel_layer().close_pools()
    await proxy.close()


async def test_a_socket_opened_while_redis_was_down_hears_its_conversation_once_it_is_back(
    redis_behind_a_proxy, alice
):
    conversation = await database_sync_to_async(make_conversation)(alice)
    redis_behind_a_proxy.cut()
    connected, tab = await open_socket(conversation.id, alice)
    assert connected
    redis_behind_a_proxy.restore()
    # What another process would send to the conversation's sockets, until this one hears.
    probe = {"type": "conversation.updated", "conversation": {"id": str(conversation.id)}}
    async with asyncio.timeout(20):
        while True:
            await events.send_event(conversation.id, probe)
            if await tab.receive_nothing(timeout=0.2) is False:
                break
    assert await tab.receive_json_from() == probe
    await tab.disconnect()


async def test_while_the_cache_is_down_replies_are_counted_in_the_process(
    redis_behind_a_proxy, settings, alice, caplog
):
    settings.CHAT_GENERATION_RATE = "2/min"
    count_one = database_sync_to_async(check_generation_rate)
    throttle = GenerationThrottle()
    key = throttle.cache_format % {"scope": throttle.scope, "ident": alice.pk}

    await count_one(alice)  # counted in the cache (which ends any earlier outage)
    redis_behind_a_proxy.cut()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="conversations.throttling"):
        await count_one(alice)
        await count_one(alice)
        with pytest.raises(Throttled):
            await count_one(alice)
    warnings = [r for r in caplog.records if r.name == "conversations.throttling"]
    assert [r.levelname for r in warnings] == ["WARNING"]  # once per outage, not per request
    assert "cache failed" in warnings[0].getMessage()

    redis_behind_a_proxy.restore()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="conversations.throttling"):
        await count_one(alice)  # the cache counts on from its own first count
        with pytest.raises(Throttled):
            await count_one(alice)
    assert "cache is back" in caplog.text
    assert len(await database_sync_to_async(throttle.cache.get)(key)) == 2
    await database_sync_to_async(throttle.cache.delete)(key)

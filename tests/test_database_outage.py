"""With PostgreSQL away, requests fail fast with a clear 503; connections the server lost
are replaced without a failed request."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from chatproject.postgresql.base import check_connection
from conversations.models import Conversation
from tests.factories import make_conversation
from tests.servers import database_url, server_process
from tests.tcp_proxy import CuttableProxy

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="needs PostgreSQL (its connection pool)",
    ),
]


def terminate_connections(application_name: str) -> int:
    """End the sessions of one application on the test database, as a restarted or
    failed-over PostgreSQL would: how many there were. It waits for each session to have
    ended (up to 5 s): signalled only, one could still be exiting when the next request
    checks its connection, which no check on checkout can tell from a live one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name = %s",
            [application_name],
        )
        return len(cursor.fetchall())


def test_connections_killed_under_the_pool_are_replaced_unseen(alice):
    conversation = make_conversation(alice)
    token = Token.objects.create(user=alice)
    with (
        # libpq names the server's connections after PGAPPNAME.
        server_process(DATABASE_POOL_MIN="3", PGAPPNAME="killed-under") as (url, _process),
        httpx.Client(
            base_url=url, headers={"Authorization": f"Token {token.key}"}, timeout=20
        ) as http,
    ):
        assert http.get(f"/api/conversations/{conversation.id}/").status_code == 200
        assert terminate_connections("killed-under") >= 3
        statuses = [http.get(f"/api/conversations/{conversation.id}/").status_code]
        statuses += [http.get("/api/conversations/").status_code for _ in range(5)]
    assert statuses == [200] * 6


def test_a_connection_is_pinged_on_checkout_only_once_the_server_ended_it():
    with psycopg.connect(database_url(), autocommit=True, application_name="checked") as alive:
        alive.execute("SELECT 'the last statement'")
        check_connection(alive)
        # Nothing reached the server: its last statement is still ours.
        assert last_statement("checked") == "SELECT 'the last statement'"
        assert terminate_connections("checked") == 1
        with pytest.raises(psycopg.OperationalError):
            # Its farewell waits on the socket, so the check pings it, which fails.
            for _ in range(50):
                check_connection(alive)
                time.sleep(0.1)


def last_statement(application_name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
        return cursor.fetchone()[0]


@pytest.fixture
async def database_behind_a_proxy():
    """A line to the test database that the test can cut."""
    database = settings.DATABASES["default"]
    proxy = await CuttableProxy(database["HOST"], int(database["PORT"])).start()
    yield proxy
    await proxy.close()


async def get_within(http, path, seconds=20):
    """GET `path`; a server that takes longer than `seconds` fails the test."""
    return await http.get(path, timeout=seconds)


async def test_with_the_database_unreachable_requests_get_a_503_quickly(
    database_behind_a_proxy, alice
):
    conversation = await database_sync_to_async(make_conversation)(alice)
    token = await database_sync_to_async(Token.objects.create)(user=alice)
    proxied = database_url(host="127.0.0.1", port=database_behind_a_proxy.port)
    # A pool timeout shorter than the default (10 s) keeps the test short.
    server = server_process(DATABASE_URL=proxied, DATABASE_POOL_TIMEOUT="3")
    url, _process = await asyncio.to_thread(server.__enter__)
    try:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Token {token.key}"}
        ) as http:
            path = f"/api/conversations/{conversation.id}/"
            assert (await get_within(http, path)).status_code == 200

            database_behind_a_proxy.cut()
            api = await get_within(http, path)
            page = await get_within(http, "/s/no-such-link/")
            assert api.status_code == 503
            assert api.json()["code"] == "database_unavailable"
            assert api.json()["detail"]
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")

            database_behind_a_proxy.restore()
            deadline = time.monotonic() + 30
            while (await get_within(http, path)).status_code != 200:
                assert time.monotonic() < deadline, "the server did not reconnect"
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


async def test_with_the_database_unreachable_v1_answers_a_503_in_openais_shape(
    database_behind_a_proxy, alice
):
    token = await database_sync_to_async(Token.objects.create)(user=alice)
    proxied = database_url(host="127.0.0.1", port=database_behind_a_proxy.port)
    server = server_process(DATABASE_URL=proxied, DATABASE_POOL_TIMEOUT="3", LLM_PROVIDER="demo")
    url, _process = await asyncio.to_thread(server.__enter__)
    try:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token.key}"}
        ) as http:
            assert (await get_within(http, "/v1/models")).status_code == 200

            database_behind_a_proxy.cut()
            models = await get_within(http, "/v1/models")

            assert models.status_code == 503
            assert models.json()["error"]["code"] == "database_unavailable"
            assert models.json()["error"]["type"] == "server_error"
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


def test_with_every_connection_busy_requests_wait_their_turn_instead_of_a_503(alice):
    conversation = make_conversation(alice)
    token = Token.objects.create(user=alice)
    headers = {"Authorization": f"Token {token.key}"}
    # One connection, and a pool timeout far shorter than the wait below.
    with (
        server_process(DATABASE_POOL_MAX="1", DATABASE_POOL_TIMEOUT="0.5") as (url, _process),
        ThreadPoolExecutor() as requests,
    ):
        with transaction.atomic():
            # The continue takes the server's one connection and waits on this lock...
            Conversation.objects.select_for_update().get(id=conversation.id)
            sent = requests.submit(
                httpx.post,
                f"{url}/api/conversations/{conversation.id}/continue/",
                json={"content": "Hello"},
                headers=headers,
                timeout=30,
            )
            time.sleep(0.5)
            # ...so this request finds every connection busy for longer than the timeout.
            listed = requests.submit(
                httpx.get, f"{url}/api/conversations/", headers=headers, timeout=30
            )
            time.sleep(1.5)
        assert sent.result().status_code == 200, sent.result().text
        assert listed.result().status_code == 200, listed.result().text
    assert listed.result().json()["results"][0]["id"] == str(conversation.id)

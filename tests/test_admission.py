"""At most REQUESTS_AT_ONCE requests run their synchronous part at once on a live server;
the others wait their turn, and a request waiting on a reply or streaming lets them in."""

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from conversations.models import Conversation, Message
from tests.factories import make_conversation
from tests.servers import wait_until_finished


@pytest.fixture
def one_at_a_time(settings):
    settings.REQUESTS_AT_ONCE = 1


@pytest.fixture
def http(one_at_a_time, server_url, alice):
    token = Token.objects.create(user=alice).key
    with httpx.Client(
        base_url=server_url, headers={"Authorization": f"Token {token}"}, timeout=20
    ) as client:
        yield client


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a request blocked on a row lock needs PostgreSQL"
)


def hold_lock(conversation_id, locked: threading.Event, release: threading.Event) -> None:
    """Lock the conversation's row, on a connection of this thread, until `release`."""
    with transaction.atomic():
        Conversation.objects.select_for_update().get(id=conversation_id)
        locked.set()
        release.wait(20)


@contextlib.contextmanager
def row_locked(conversation_id):
    """The conversation's row locked by another connection until the block ends."""
    locked, release = threading.Event(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(hold_lock, conversation_id, locked, release)
        assert locked.wait(10)
        try:
            yield
        finally:
            release.set()
            holder.result(timeout=10)


def wait_for_a_request_on_the_lock() -> None:
    """Until a request of the server waits on a row lock of the test database."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            assert time.monotonic() < deadline, "no request waits on the lock"
            time.sleep(0.05)


@needs_postgresql
def test_a_request_past_the_limit_waits_for_the_one_in_front(http, alice, fake_openai):
    fake_openai.reply(text="Answered")
    stuck, other = make_conversation(alice), make_conversation(alice)
    with ThreadPoolExecutor(2) as pool:
        with row_locked(stuck.id):
            # Its view waits on the row lock, holding the one place.
            first = pool.submit(
                http.post, f"/api/conversations/{stuck.id}/continue/", json={"content": "Hi"}
            )
            wait_for_a_request_on_the_lock()
            second = pool.submit(http.get, f"/api/conversations/{other.id}/")
            with pytest.raises(TimeoutError):
                second.result(timeout=1.5)
        assert first.result(timeout=20).status_code == 200
        assert second.result(timeout=20).status_code == 200


def test_a_whole_continue_waiting_on_its_reply_lets_other_requests_in(http, alice, fake_openai):
    fake_openai.reply(text=[f"t{number} " for number in range(40)], pace=0.05)
    conversation = make_conversation(alice, title="Waiting")
    with ThreadPoolExecutor(1) as pool:
        whole = pool.submit(
            http.post, f"/api/conversations/{conversation.id}/continue/", json={"content": "Go"}
        )
        reply = None
        while reply is None:
            reply = Message.objects.filter(conversation=conversation, role="assistant").first()
        # The reply is still being written, and its request still waits on it.
        listed = http.get("/api/conversations/", timeout=1.5)
        assert listed.status_code == 200
        assert not whole.done()
        assert whole.result(timeout=20).status_code == 200
    assert wait_until_finished(reply.id).status == "completed"


@needs_postgresql
def test_a_request_never_waits_behind_the_view_of_a_client_that_hung_up(http, alice, fake_openai):
    fake_openai.reply(text="Answered")
    stuck, other = make_conversation(alice), make_conversation(alice)
    with row_locked(stuck.id):
        # Its view waits on the row lock, on its request's thread, when the client goes.
        with pytest.raises(httpx.ReadTimeout):
            http.post(f"/api/conversations/{stuck.id}/continue/", json={"content": "Hi"}, timeout=1)
        wait_for_a_request_on_the_lock()
        # The requests that follow run on other threads than the one still held.
        for _ in range(3):
            assert http.get(f"/api/conversations/{other.id}/", timeout=5).status_code == 200

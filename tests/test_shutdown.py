"""A server process that is told to stop (SIGTERM) stops promptly, stores what its
running replies wrote, and leaves queued replies for a process that stays; a live one's
silent reply is never taken for an orphan (tests/test_cross_process.py kills one)."""

import json
import signal
import subprocess
import time

import httpx
import pytest
import websockets
import websockets.sync.client
from django.conf import settings
from rest_framework.authtoken.models import Token

from conversations.llm.demo import demo_reply
from conversations.models import Message
from tests.factories import make_conversation

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL, which several processes can share (CI has it)",
)


def stops_within(process, seconds=20) -> bool:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def wait_for(reply_id, statuses, seconds=30) -> Message:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = Message.objects.get(id=reply_id)
        if reply.status in statuses:
            return reply
        time.sleep(0.1)
    raise AssertionError(f"reply {reply_id} is still {reply.status}")


def first_text_delta(http, url, content) -> str:
    """Start a streamed reply to `content` and leave once its text streams: its id."""
    with http.stream("POST", url, json={"content": content, "stream": True}) as response:
        for line in response.iter_lines():
            event = json.loads(line[6:]) if line.startswith("data: ") else {}
            if event.get("type") == "message.delta" and event["item_type"] == "output_text":
                return event["message_id"]
    raise AssertionError("the reply's text never streamed")


def test_a_live_servers_silent_reply_is_not_taken_for_an_orphan(server_process, alice, fake_openai):
    fake_openai.reply(text="Worth the wait", first_token_delay=7)
    environment = {"OPENAI_BASE_URL": fake_openai.base_url, "LLM_PROVIDER": "openai"}
    url, _ = server_process(**environment)
    server_process(**environment)  # another process looking for orphans meanwhile
    conversation = make_conversation(alice)
    token = Token.objects.create(user=alice)
    with httpx.Client(headers={"Authorization": f"Token {token.key}"}, timeout=30) as http:
        response = http.post(
            f"{url}/api/conversations/{conversation.id}/continue/", json={"content": "Think"}
        )
    reply = response.json()["messages"][-1]
    assert reply["status"] == "completed"
    assert reply["content"][0]["text"] == "Worth the wait"


def test_a_stopping_server_keeps_what_arrived_and_leaves_the_queue_to_another(
    server_process, alice
):
    url, process = server_process(DEMO_STREAM_DELAY="0.3")  # still writing at the stop
    conversation = make_conversation(alice)
    token = Token.objects.create(user=alice)
    continue_url = f"{url}/api/conversations/{conversation.id}/continue/"
    with httpx.Client(headers={"Authorization": f"Token {token.key}"}, timeout=20) as http:
        first_id = first_text_delta(http, continue_url, "First")
        second = http.post(continue_url, json={"content": "Second"}).json()["messages"][-1]
    assert second["status"] == "queued"

    assert stops_within(process)
    first = Message.objects.get(id=first_id)
    assert first.status == "incomplete"
    assert first.error["code"] == "interrupted"
    kept = "".join(item.text for item in first.content.filter(type="output_text"))
    assert kept and demo_reply("First").startswith(kept)  # what arrived before the stop
    assert Message.objects.get(id=second["id"]).status == "queued"

    server_process()  # a process that stays runs the queue it left
    assert wait_for(second["id"], ("completed",)).status == "completed"


@pytest.mark.parametrize("refused", ["anonymous", "another origin", "no route"])
def test_a_server_stops_promptly_after_refusing_sockets(server_process, alice, refused):
    url, process = server_process()
    conversation = make_conversation(alice)
    path = "/ws/nothing/" if refused == "no route" else f"/ws/conversations/{conversation.id}/"
    origin = "https://elsewhere.example" if refused == "another origin" else url
    for _ in range(3):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refusal:
            websockets.sync.client.connect(
                url.replace("http", "ws") + path, origin=origin, open_timeout=10
            )
        assert refusal.value.response.status_code == 403
    assert stops_within(process)

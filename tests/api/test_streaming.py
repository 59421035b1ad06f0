"""Continue over real HTTP from a live server: streamed as Server-Sent Events, or whole."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from asgiref.sync import async_to_sync
from rest_framework.authtoken.models import Token

from conversations import events as messages_events
from conversations.models import Message
from tests.conftest import free_port
from tests.factories import make_conversation
from tests.servers import wait_until_finished


@pytest.fixture
def conversation(alice):
    return make_conversation(alice, title="Streams")


@pytest.fixture
def token(alice):
    return Token.objects.create(user=alice).key


@pytest.fixture
def http(server_url, token):
    with httpx.Client(
        base_url=server_url, headers={"Authorization": f"Token {token}"}, timeout=20
    ) as client:
        yield client


def read_events(response, until=None, seconds=30):
    """Parse SSE lines into (id, event) pairs, stopping early when `until(event)` holds;
    a stream still open after `seconds` (keep-alives only, say) fails the test."""
    events, event_id = [], None
    deadline = time.monotonic() + seconds
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise AssertionError(f"the stream was still open after {seconds} s: {events[-3:]}")
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            event = json.loads(line[6:])
            events.append((event_id, event))
            event_id = None
            if until and until(event):
                break
    return events


def stored_text(reply_id) -> str:
    reply = Message.objects.get(id=reply_id)
    return "".join(item.text for item in reply.content.all() if item.type == "output_text")


def streamed_text(events, after_seq=0):
    return "".join(
        e["delta"]
        for seq, e in events
        if e["type"] == "message.delta" and e["item_type"] == "output_text" and seq > after_seq
    )


@pytest.mark.parametrize("ask", ["body", "accept"])
def test_continue_streams_server_sent_events(http, conversation, ask):
    body = {"content": "Stream this"}
    headers = {}
    if ask == "body":
        body["stream"] = True
    else:
        headers["Accept"] = "text/event-stream"
    url = f"/api/conversations/{conversation.id}/continue/"
    with http.stream("POST", url, json=body, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)

    kinds = [event["type"] for _, event in events]
    assert kinds[:2] == ["message.created", "message.created"]
    assert kinds[-1] == "message.completed"
    deltas = [(seq, e) for seq, e in events if e["type"] == "message.delta"]
    assert [seq for seq, _ in deltas] == [e["seq"] for _, e in deltas]
    assert [seq for seq, _ in deltas] == list(range(1, len(deltas) + 1))
    reply_id = events[-1][1]["message"]["id"]
    assert streamed_text(events) == stored_text(reply_id)
    assert "Stream this" in stored_text(reply_id)


def test_a_closed_stream_does_not_stop_the_reply(http, conversation, settings):
    settings.DEMO_STREAM_DELAY = 0.01
    url = f"/api/conversations/{conversation.id}/continue/"
    with http.stream("POST", url, json={"content": "Go on without me", "stream": True}) as r:
        events = read_events(r, until=lambda e: e["type"] == "message.delta")
    reply_id = events[-1][1]["message_id"]
    reply = wait_until_finished(reply_id)
    assert reply.status == "completed"
    assert "Go on without me" in stored_text(reply_id)


@pytest.mark.parametrize("deleted", ["reply", "conversation"])
def test_a_stream_whose_reply_is_deleted_ends_saying_so(http, conversation, settings, deleted):
    settings.DEMO_STREAM_DELAY = 0.05
    url = f"/api/conversations/{conversation.id}/continue/"
    deletes = []

    def delete_at_the_first_text(event):
        if event["type"] == "message.delta" and not deletes:
            target = f"/api/messages/{event['message_id']}/"
            if deleted == "conversation":
                target = f"/api/conversations/{conversation.id}/"
            deletes.append((event["message_id"], http.delete(target)))
        return False

    with http.stream("POST", url, json={"content": "Talk for a while", "stream": True}) as r:
        events = read_events(r, until=delete_at_the_first_text, seconds=10)
    reply_id, response = deletes[0]
    assert response.status_code == 204
    last = events[-1][1]
    assert last["type"] == "message.deleted"
    assert reply_id in last["message_ids"]
    assert not Message.objects.filter(id=reply_id).exists()


def test_a_whole_continue_whose_conversation_is_deleted_meanwhile_is_a_404(
    http, conversation, settings
):
    """The JSON continue waits for its reply, then answers the branch: a conversation
    deleted meanwhile is gone, which is a 404 (it was a 500)."""
    settings.DEMO_STREAM_DELAY = 0.05
    url = f"/api/conversations/{conversation.id}/continue/"
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(http.post, url, json={"content": "Talk for a while"})
        deadline = time.monotonic() + 10
        while not Message.objects.filter(conversation=conversation, role="assistant").exists():
            assert time.monotonic() < deadline, "no reply was started"
            time.sleep(0.02)
        assert http.delete(f"/api/conversations/{conversation.id}/").status_code == 204
        answer = waiting.result(timeout=30)

    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_a_whole_continue_outlives_a_client_that_hangs_up(http, conversation, fake_openai):
    tokens = [f"t{number} " for number in range(80)]
    fake_openai.reply(text=tokens, pace=0.02)
    url = f"/api/conversations/{conversation.id}/continue/"
    with pytest.raises(httpx.ReadTimeout):
        http.post(url, json={"content": "Count for me"}, timeout=0.8)

    reply_id = Message.objects.get(conversation=conversation, role="assistant").id
    reply = wait_until_finished(reply_id)
    assert reply.status == "completed"
    assert stored_text(reply_id) == "".join(tokens)


@pytest.mark.parametrize("stream", [True, False])
def test_more_replies_at_once_than_database_connections_all_finish(
    server_url, token, alice, fake_openai, settings, stream
):
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if not pool:
        pytest.skip("PostgreSQL with its connection pool is not configured")
    count = pool["max_size"] + 4
    conversations = [make_conversation(alice) for _ in range(count)]
    tokens = [f"w{number} " for number in range(20)]
    for _ in conversations:
        fake_openai.reply(text=tokens, pace=0.05)

    def ask(conversation):
        url = f"{server_url}/api/conversations/{conversation.id}/continue/"
        body = {"content": "At once", "stream": stream}
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(headers=headers, timeout=20) as client:
            if not stream:
                return client.post(url, json=body).json()["messages"][-1]
            with client.stream("POST", url, json=body) as response:
                return read_events(response)[-1][1]["message"]

    with ThreadPoolExecutor(count) as pool:
        replies = list(pool.map(ask, conversations))
    assert [reply["status"] for reply in replies] == ["completed"] * count
    assert {stored_text(reply["id"]) for reply in replies} == {"".join(tokens)}


def test_a_stream_stopped_midway_ends_with_exactly_the_stored_text(http, conversation, settings):
    settings.DEMO_STREAM_DELAY = 0.02
    url = f"/api/conversations/{conversation.id}/continue/"
    stops = []

    def stop_at_the_first_text(event):
        if event["type"] == "message.delta" and event["item_type"] == "output_text" and not stops:
            stops.append(http.post(f"/api/messages/{event['message_id']}/cancel/"))
        return False

    with http.stream("POST", url, json={"content": "Stop me", "stream": True}) as r:
        events = read_events(r, until=stop_at_the_first_text)
    assert stops[0].status_code == 200
    reply_id = stops[0].json()["id"]
    final = events[-1][1]
    assert final["type"] == "message.completed"
    assert final["message"]["status"] == "cancelled"
    final_text = "".join(i.get("text", "") for i in final["message"]["content"])
    assert streamed_text(events) == final_text == stored_text(reply_id)


def test_a_stream_goes_on_while_the_channel_layer_is_down(http, conversation, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},  # nothing listens
        }
    }
    url = f"/api/conversations/{conversation.id}/continue/"
    with http.stream("POST", url, json={"content": "Redis is away", "stream": True}) as r:
        assert r.status_code == 200
        events = read_events(r)
    assert events[-1][1]["type"] == "message.completed"
    reply_id = events[-1][1]["message"]["id"]
    assert "Redis is away" in stored_text(reply_id)
    assert streamed_text(events) == stored_text(reply_id)


def test_a_stream_that_loses_a_frame_starts_again_from_a_snapshot(http, conversation, settings):
    settings.DEMO_STREAM_DELAY = 0.02
    gaps = []

    def skip_ahead_at_the_first_text(event):
        if event["type"] == "message.delta" and event["item_type"] == "output_text" and not gaps:
            # A delta far ahead: as if the ones before it were lost on the way.
            ahead = messages_events.message_delta(
                event["message_id"], 0, "output_text", "never sent"
            )
            gaps.append({**ahead, "seq": 10_000})
            async_to_sync(messages_events.send_event)(conversation.id, gaps[0])
        return False

    url = f"/api/conversations/{conversation.id}/continue/"
    with http.stream("POST", url, json={"content": "Mind the gap", "stream": True}) as r:
        events = read_events(r, until=skip_ahead_at_the_first_text)
    reply_id = gaps[0]["message_id"]
    kinds = [event["type"] for _, event in events]
    assert "message.snapshot" in kinds
    snapshot_at = kinds.index("message.snapshot")
    snapshot_seq, snapshot = events[snapshot_at]
    text = "".join(
        i.get("text", "") for i in snapshot["message"]["content"] if i["type"] == "output_text"
    )
    text += streamed_text(events[snapshot_at:], after_seq=snapshot_seq)
    assert "never sent" not in streamed_text(events)
    assert events[-1][1]["type"] == "message.completed"
    assert text == stored_text(reply_id)


def test_a_broken_stream_resumes_exactly(http, conversation, settings):
    settings.DEMO_STREAM_DELAY = 0.02
    url = f"/api/conversations/{conversation.id}/continue/"
    with http.stream("POST", url, json={"content": "Resume me", "stream": True}) as r:
        first = read_events(
            r, until=lambda e: e["type"] == "message.delta" and e["item_type"] == "output_text"
        )
    reply_id = first[-1][1]["message_id"]
    time.sleep(0.1)

    headers = {"Last-Event-ID": str(first[-1][0])}
    with http.stream("GET", f"/api/messages/{reply_id}/stream/", headers=headers) as r:
        events = read_events(r)
    snapshot_seq, snapshot = events[0]
    assert snapshot["type"] == "message.snapshot"
    text = "".join(
        i.get("text", "") for i in snapshot["message"]["content"] if i["type"] == "output_text"
    )
    text += streamed_text(events, after_seq=snapshot_seq)
    assert events[-1][1]["type"] == "message.completed"
    assert text == stored_text(reply_id)


def test_resuming_a_finished_reply_sends_its_end(http, conversation):
    response = http.post(f"/api/conversations/{conversation.id}/continue/", json={"content": "hi"})
    reply_id = response.json()["messages"][-1]["id"]
    with http.stream("GET", f"/api/messages/{reply_id}/stream/") as r:
        events = read_events(r)
    assert [e["type"] for _, e in events] == ["message.completed"]
    assert events[0][1]["message"]["id"] == reply_id


def test_bad_input_asked_as_a_stream_is_a_400_error_event(http, conversation):
    response = http.post(
        f"/api/conversations/{conversation.id}/continue/",
        json={"content": ""},
        headers={"Accept": "text/event-stream"},
    )
    assert response.status_code == 400
    event = json.loads(response.text.removeprefix("data: "))
    assert event["type"] == "error"
    assert event["code"] == "empty_content"
    assert not Message.objects.exists()


def test_another_users_reply_stream_is_404(http, server_url, bob):
    theirs = make_conversation(bob)
    reply = Message.objects.create(conversation=theirs, role="assistant", status="in_progress")
    assert http.get(f"/api/messages/{reply.id}/stream/").status_code == 404
    url = f"/api/conversations/{theirs.id}/continue/"
    assert http.post(url, json={"content": "x", "stream": True}).status_code == 404

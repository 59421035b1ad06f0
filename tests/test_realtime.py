"""Replies stream to every tab, survive the socket, stop from anywhere, and catch up exactly."""

import asyncio
import copy
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from conversations import fanout, processes, services
from conversations.llm.demo import demo_reply
from conversations.models import Message
from conversations.rendering import render_markdown
from tests.factories import make_conversation, make_message
from tests.tcp_proxy import CuttableProxy
from tests.websocket import open_socket

pytestmark = pytest.mark.django_db(transaction=True)

FINISHED = ("message.completed", "message.failed")


@pytest.fixture
def conversation(alice):
    return make_conversation(alice, title="Realtime")


async def receive_until(tab, predicate, timeout=10):
    frames = []
    while True:
        frame = await tab.receive_json_from(timeout=timeout)
        frames.append(frame)
        if predicate(frame):
            return frames


def finished(reply_id=None):
    def check(frame):
        return frame["type"] in FINISHED and (
            reply_id is None or frame["message"]["id"] == reply_id
        )

    return check


def reply_created(frame):
    return frame["type"] == "message.created" and frame["message"]["role"] == "assistant"


def streamed_text(frames, reply_id, item_type="output_text"):
    deltas = [f for f in frames if f["type"] == "message.delta" and f["message_id"] == reply_id]
    return "".join(f["delta"] for f in deltas if f["item_type"] == item_type)


def text_of(message, item_type="output_text"):
    return "".join(item.get("text", "") for item in message["content"] if item["type"] == item_type)


async def leave_once_the_reply_streams(conversation, user, content) -> str:
    """Send `content` from a tab, close it at the reply's first delta; the reply's id."""
    _, tab = await open_socket(conversation.id, user)
    await tab.send_json_to({"type": "message.create", "content": content})
    frames = await receive_until(tab, lambda f: f["type"] == "message.delta")
    await tab.disconnect()
    return next(f for f in frames if reply_created(f))["message"]["id"]


@database_sync_to_async
def stored(reply_id) -> Message:
    return Message.objects.prefetch_related("content").get(id=reply_id)


async def test_two_tabs_receive_the_same_complete_stream(conversation, alice, running_replies):
    _, first = await open_socket(conversation.id, alice)
    _, second = await open_socket(conversation.id, alice)
    await first.send_json_to({"type": "message.create", "content": "Hello there"})

    seen_first = await receive_until(first, finished())
    seen_second = await receive_until(second, finished())

    reply_id = next(f for f in seen_first if reply_created(f))["message"]["id"]
    final = seen_first[-1]["message"]
    assert final["status"] == "completed"
    assert "Hello there" in text_of(final)
    # The end frame shows the HTML stored with the reply: the text's rendering.
    output = next(item for item in final["content"] if item["type"] == "output_text")
    assert output["html"] == render_markdown(output["text"])
    for frames in (seen_first, seen_second):
        deltas = [f for f in frames if f["type"] == "message.delta"]
        assert [f["seq"] for f in deltas] == list(range(1, len(deltas) + 1))
        assert streamed_text(frames, reply_id) == text_of(final)
        assert (
            streamed_text(frames, reply_id, "reasoning")
            == final["content"][0]["summary"][0]["text"]
        )
    assert [f["type"] for f in seen_first] == [f["type"] for f in seen_second]
    reply = await stored(reply_id)
    assert reply.status == "completed"
    assert "".join(i.text for i in reply.content.all() if i.type == "output_text") == text_of(final)
    await first.disconnect()
    await second.disconnect()


async def test_closing_the_socket_does_not_stop_the_reply(
    conversation, alice, settings, running_replies
):
    settings.DEMO_STREAM_DELAY = 0.01
    reply_id = await leave_once_the_reply_streams(conversation, alice, "Keep going")

    await asyncio.wait_for(asyncio.gather(*running_replies.tasks), timeout=20)
    reply = await stored(reply_id)
    assert reply.status == "completed"
    assert "Keep going" in "".join(item.text for item in reply.content.all())


async def streaming_reply(conversation, user, content):
    """Send `content` from a new tab and wait for its reply's first text: (the tab, its
    frames so far, the reply's id)."""
    _, tab = await open_socket(conversation.id, user)
    await tab.send_json_to({"type": "message.create", "content": content})
    frames = await receive_until(
        tab, lambda f: f["type"] == "message.delta" and f["item_type"] == "output_text"
    )
    reply_id = next(f for f in frames if reply_created(f))["message"]["id"]
    return tab, frames, reply_id


async def cancel_from_another_tab(conversation, user, content):
    """Send `content` from a first tab and cancel its reply from a second tab once its text
    streams: (first tab, second tab, the first tab's frames so far, the reply's id)."""
    first, frames, reply_id = await streaming_reply(conversation, user, content)
    _, second = await open_socket(conversation.id, user)
    await second.send_json_to({"type": "generation.cancel", "message_id": reply_id})
    return first, second, frames, reply_id


async def test_cancel_from_another_tab_keeps_the_partial_text(
    conversation, alice, settings, running_replies
):
    settings.DEMO_STREAM_DELAY = 0.05
    first, second, frames, reply_id = await cancel_from_another_tab(
        conversation, alice, "A long story please"
    )
    frames += await receive_until(
        first, lambda f: finished(reply_id)(f) and f["message"]["content"]
    )
    await asyncio.wait_for(asyncio.gather(*running_replies.tasks), timeout=10)

    reply = await stored(reply_id)
    assert reply.status == "cancelled"
    partial = "".join(i.text for i in reply.content.all() if i.type == "output_text")
    assert partial
    assert "A long story please" in partial or len(partial) < 40
    # Stopped early: far from the whole demo reply, and nothing arrived after the stop.
    assert len(partial) < 300
    assert streamed_text(frames, reply_id).startswith(
        partial[: len(streamed_text(frames, reply_id))]
    )
    await first.disconnect()
    await second.disconnect()


async def frames_until_quiet(tab, quiet=0.5) -> list[dict]:
    """Every frame the tab receives until none has come for `quiet` seconds."""
    frames = []
    while not await tab.receive_nothing(timeout=quiet):
        frames.append(await tab.receive_json_from())
    return frames


async def test_a_cancelled_reply_ends_once_with_no_delta_after_its_end(
    conversation, alice, settings, running_replies
):
    settings.DEMO_STREAM_DELAY = 0.02
    first, second, frames, reply_id = await cancel_from_another_tab(
        conversation, alice, "Talk for a while"
    )
    await asyncio.wait_for(asyncio.gather(*running_replies.tasks), timeout=10)
    frames += await frames_until_quiet(first)

    ends = [i for i, frame in enumerate(frames) if finished(reply_id)(frame)]
    assert len(ends) == 1
    assert not [f for f in frames[ends[0] :] if f["type"] == "message.delta"]
    final = frames[ends[0]]["message"]
    assert final["status"] == "cancelled"
    reply = await stored(reply_id)
    stored_text = "".join(i.text for i in reply.content.all() if i.type == "output_text")
    assert streamed_text(frames, reply_id) == text_of(final) == stored_text
    await first.disconnect()
    await second.disconnect()


async def test_a_reply_deleted_while_it_streams_stops_at_once(
    conversation, alice, settings, running_replies
):
    settings.DEMO_STREAM_DELAY = 0.02
    tab, frames, reply_id = await streaming_reply(conversation, alice, "Talk for a while")
    reply = await stored(reply_id)
    await database_sync_to_async(services.message_delete)(message=reply)
    await asyncio.wait_for(asyncio.gather(*running_replies.tasks), timeout=10)
    frames = await frames_until_quiet(tab)

    deleted = next(i for i, f in enumerate(frames) if f["type"] == "message.deleted")
    late = [f for f in frames[deleted:] if f.get("message_id") == reply_id]
    assert late == []
    assert not await Message.objects.filter(id=reply_id).aexists()
    await tab.disconnect()


async def test_a_tab_that_reconnects_mid_stream_ends_with_exactly_the_stored_text(
    conversation, alice, settings, running_replies
):
    settings.DEMO_STREAM_DELAY = 0.02
    tab, frames, reply_id = await streaming_reply(conversation, alice, "Reconnect test")
    await tab.disconnect()
    await asyncio.sleep(0.1)  # deltas go by while no tab listens

    _, back = await open_socket(conversation.id, alice)
    await back.send_json_to({"type": "sync", "message_id": reply_id, "after_seq": 0})
    frames = await receive_until(back, finished(reply_id))

    # Apply the protocol as a client does: the snapshot, then only later deltas.
    snapshot = next(f for f in frames if f["type"] == "message.snapshot")
    text = text_of(snapshot["message"])
    seq = snapshot["seq"]
    for frame in frames[frames.index(snapshot) + 1 :]:
        if frame["type"] == "message.delta" and frame["item_type"] == "output_text":
            if frame["seq"] <= seq:
                continue
            assert frame["seq"] == seq + 1
            seq = frame["seq"]
            text += frame["delta"]
        elif frame["type"] == "message.delta":
            seq = max(seq, frame["seq"])
    reply = await stored(reply_id)
    assert text == "".join(i.text for i in reply.content.all() if i.type == "output_text")
    assert text == text_of(frames[-1]["message"])
    await back.disconnect()


async def test_sync_after_the_reply_finished_sends_the_stored_reply(
    conversation, alice, running_replies
):
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "Finish first"})
    frames = await receive_until(tab, finished())
    reply_id = frames[-1]["message"]["id"]
    await tab.send_json_to({"type": "sync", "message_id": reply_id, "after_seq": 3})
    answer = await tab.receive_json_from()
    assert answer["type"] == "message.completed"
    assert answer["message"] == {**frames[-1]["message"], **answer["message"]}
    assert text_of(answer["message"]) == text_of(frames[-1]["message"])
    await tab.disconnect()


async def test_sync_on_a_queued_reply_sends_it_as_it_stands(conversation, alice):
    @database_sync_to_async
    def queue_one():
        running = make_message(conversation, role="assistant", text="", status="in_progress")
        question = make_message(conversation, running, text="next")
        return make_message(conversation, question, role="assistant", text="", status="queued")

    queued = await queue_one()
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "sync", "message_id": str(queued.id), "after_seq": 0})

    frame = await tab.receive_json_from()
    assert frame["type"] == "message.snapshot"
    assert (frame["seq"], frame["message"]["id"]) == (0, str(queued.id))
    assert frame["message"]["status"] == "queued"
    await tab.disconnect()


async def test_queued_replies_run_in_order(conversation, alice, settings, running_replies):
    settings.DEMO_STREAM_DELAY = 0.005
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "first"})
    await tab.send_json_to({"type": "message.create", "content": "second"})
    frames = await receive_until(tab, lambda f: finished()(f) and "second" in text_of(f["message"]))

    replies = [f["message"] for f in frames if reply_created(f)]
    assert [r["status"] for r in replies] == ["in_progress", "queued"]
    done = [f["message"] for f in frames if f["type"] in FINISHED]
    assert [d["id"] for d in done] == [r["id"] for r in replies]
    assert "first" in text_of(done[0]) and "second" in text_of(done[1])
    # The second question was asked after the first reply, on the same branch.
    second = await stored(replies[1]["id"])
    assert str(await database_sync_to_async(lambda: second.parent.parent_id)()) == replies[0]["id"]
    await tab.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "message.create", "content": ""}, "empty_content"),
        ({"type": "message.create"}, "invalid"),
        ({"type": "message.create", "content": [{"type": "teleport"}]}, "invalid_content"),
        ({"type": "message.reset", "message_id": "nope"}, "invalid"),
        (
            {
                "type": "message.edit",
                "message_id": "00000000-0000-0000-0000-000000000000",
                "content": "x",
            },
            "not_found",
        ),
        (
            {"type": "generation.cancel", "message_id": "00000000-0000-0000-0000-000000000000"},
            "not_found",
        ),
        ({"type": "sync"}, "invalid"),
    ],
)
async def test_bad_frames_get_error_frames(conversation, alice, frame, code):
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to(frame)
    error = await tab.receive_json_from()
    assert error["type"] == "error"
    assert error["code"] == code, error
    assert error["detail"]
    await tab.disconnect()


async def test_another_users_message_is_not_found_on_my_socket(conversation, alice, bob):
    theirs = await database_sync_to_async(make_conversation)(bob)
    message = await database_sync_to_async(make_message)(theirs, text="private")
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to(
        {"type": "message.edit", "message_id": str(message.id), "content": "mine"}
    )
    assert (await tab.receive_json_from())["code"] == "not_found"
    await tab.disconnect()


async def test_upstream_error_is_delivered_as_message_failed(
    conversation, alice, settings, tmp_path, running_replies
):
    settings.LLM_PROVIDER = "local"
    settings.LOCAL_MODEL_PATH = str(tmp_path / "missing.gguf")
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "Anyone there?"})
    frames = await receive_until(tab, finished())
    failed = frames[-1]
    assert failed["type"] == "message.failed"
    assert failed["message"]["status"] == "failed"
    assert failed["message"]["error"]["code"] == "upstream_error"
    user_message = next(f["message"] for f in frames if f["type"] == "message.created")
    assert (await stored(user_message["id"])).status == "completed"  # the question is kept
    await tab.disconnect()


async def test_total_timeout_ends_the_reply_incomplete_with_what_arrived(
    conversation, alice, settings, running_replies
):
    settings.DEMO_STREAM_DELAY = 0.2
    settings.LLM_TOTAL_TIMEOUT = 1.0  # well before the demo reply's end, whatever the load
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "Slowly"})
    frames = await receive_until(tab, finished())
    failed = frames[-1]["message"]
    assert frames[-1]["type"] == "message.failed"
    assert failed["status"] == "incomplete"
    assert failed["error"]["code"] == "timeout"
    reply = await stored(failed["id"])
    assert reply.content.all()  # the partial reply is stored
    await tab.disconnect()


async def test_orphaned_reply_is_marked_incomplete_and_its_queue_runs(
    conversation, alice, running_replies
):
    @database_sync_to_async
    def orphan():
        question = make_message(conversation, text="lost")
        reply = make_message(conversation, question, role="assistant", text="half an ans",
                             status="in_progress")  # fmt: skip
        follow_up = make_message(conversation, reply, text="next")
        queued = Message.objects.create(conversation=conversation, parent=follow_up,
                                        role="assistant", status="queued")  # fmt: skip
        old = timezone.now() - timedelta(minutes=5)
        Message.objects.filter(id=reply.id).update(updated_at=old)
        return reply, queued

    reply, queued = await orphan()
    _, tab = await open_socket(conversation.id, alice)
    await processes.recover()
    frames = await receive_until(tab, finished(str(queued.id)))

    lost = next(f for f in frames if f["type"] == "message.failed")["message"]
    assert lost["id"] == str(reply.id)
    assert lost["status"] == "incomplete"
    assert lost["error"]["code"] == "interrupted"
    assert text_of(lost) == "half an ans"
    assert frames[-1]["message"]["status"] == "completed"
    await tab.disconnect()


async def test_a_long_reply_is_written_in_batches_not_per_token(
    conversation, alice, running_replies
):
    writes = []

    def count(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(sql)
        return execute(sql, params, many, context)

    # Replies write through sync_to_async's one thread, hence one connection.
    wrapper = await database_sync_to_async(lambda: connection.execute_wrapper(count))()
    await database_sync_to_async(wrapper.__enter__)()
    try:
        _, tab = await open_socket(conversation.id, alice)
        await tab.send_json_to({"type": "message.create", "content": "Tell me everything"})
        frames = await receive_until(tab, finished())
    finally:
        await database_sync_to_async(wrapper.__exit__)(None, None, None)

    pieces = len(text_of(frames[-1]["message"])) // 12
    assert pieces > 30
    reply_writes = [sql for sql in writes if "conversations_contentitem" in sql]
    # Appending the question and storing the final reply; never one write per piece.
    assert len(writes) < pieces / 2
    assert len(reply_writes) <= 6
    await tab.disconnect()


async def test_a_silent_upstream_hits_the_first_token_timeout(
    conversation, alice, settings, fake_openai, running_replies
):
    settings.LLM_FIRST_TOKEN_TIMEOUT = 0.3
    fake_openai.reply(text="Too late", first_token_delay=1.5)
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "Anyone?"})
    frames = await receive_until(tab, finished())
    failed = frames[-1]
    assert failed["type"] == "message.failed"
    assert failed["message"]["status"] == "failed"
    assert failed["message"]["error"]["code"] == "timeout"
    await tab.disconnect()


@pytest.mark.parametrize("provider", ["openai", "openai-responses"])
async def test_an_upstream_that_only_keeps_alive_hits_the_first_token_timeout(
    conversation, alice, settings, fake_openai, running_replies, provider
):
    settings.LLM_PROVIDER = provider
    settings.LLM_FIRST_TOKEN_TIMEOUT = 0.3
    fake_openai.reply(text="Too late", first_token_delay=2.0, keepalive=True)
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "Anyone?"})
    frames = await receive_until(tab, finished())
    failed = frames[-1]["message"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "timeout"
    assert not text_of(failed)
    await tab.disconnect()


async def test_replies_share_one_connection_to_the_model_server(
    conversation, alice, fake_openai, running_replies
):
    _, tab = await open_socket(conversation.id, alice)
    for question in ("one", "two", "three"):
        fake_openai.reply(text=f"Answer to {question}")
        await tab.send_json_to({"type": "message.create", "content": question})
        await receive_until(tab, finished())
    # No new client, TLS context and connection for each reply: the first one's is reused.
    assert len({request.peer for request in fake_openai.model_requests()}) == 1
    await tab.disconnect()


async def test_tool_calls_and_their_output_reach_the_tabs_while_the_reply_runs(
    alice, running_replies
):
    conversation = await database_sync_to_async(make_conversation)(alice, tools=["current_time"])
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "message.create", "content": "What time is it?"})
    frames = await receive_until(tab, finished())
    snapshots = [f["message"]["content"] for f in frames if f["type"] == "message.snapshot"]
    types = [[item["type"] for item in content] for content in snapshots]
    # First the call (with its name), then its output, each before the reply finished.
    assert types[0][-1] == "function_call"
    assert types[1][-2:] == ["function_call", "function_call_output"]
    assert snapshots[0][-1]["name"] == "current_time"
    assert snapshots[1][-1]["output"]
    final = [item["type"] for item in frames[-1]["message"]["content"]]
    assert final[final.index("function_call") + 1] == "function_call_output"
    await tab.disconnect()


async def test_the_socket_shares_the_apis_limit_on_replies(
    conversation, alice, settings, running_replies
):
    settings.CHAT_GENERATION_RATE = "2/min"
    await database_sync_to_async(cache.clear)()
    _, tab = await open_socket(conversation.id, alice)
    for question in ("one", "two"):
        await tab.send_json_to({"type": "message.create", "content": question})
        await receive_until(tab, finished())
    await tab.send_json_to({"type": "message.create", "content": "three"})
    error = await tab.receive_json_from()
    assert error["type"] == "error"
    assert error["code"] == "throttled"
    assert "try again in" in error["detail"]
    count = await database_sync_to_async(Message.objects.filter(role="user").count)()
    assert count == 2
    await tab.disconnect()
    await database_sync_to_async(cache.clear)()


async def test_a_tab_left_idle_still_receives_the_next_reply(conversation, alice, running_replies):
    _, idle = await open_socket(conversation.id, alice)
    # Longer than channels-redis's blocking pop (5 s): an idle socket must outlive it.
    await asyncio.sleep(6.5)
    _, active = await open_socket(conversation.id, alice)
    await active.send_json_to({"type": "message.create", "content": "Anyone there?"})

    seen = await receive_until(idle, finished())

    assert seen[-1]["message"]["status"] == "completed"
    assert "Anyone there?" in text_of(seen[-1]["message"])
    await idle.disconnect()
    await active.disconnect()


@pytest.fixture
async def layer_behind_a_proxy(settings):
    """The Redis channel layer, reached through a line the test can cut."""
    if not settings.REDIS_URL:
        pytest.skip("needs the Redis channel layer (REDIS_URL)")
    url = urlsplit(settings.REDIS_URL)
    proxy = await CuttableProxy(url.hostname, url.port or 6379).start()
    proxied = url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"][0]["address"] = proxied
    settings.CHANNEL_LAYERS = layers
    yield proxy
    await get_channel_layer().close_pools()
    await proxy.close()


async def test_a_channel_layer_outage_costs_frames_not_the_reply(
    conversation, alice, settings, running_replies, layer_behind_a_proxy
):
    settings.DEMO_STREAM_DELAY = 0.02
    reply_id = await leave_once_the_reply_streams(conversation, alice, "Keep going")

    layer_behind_a_proxy.cut()  # until the reply has finished: its last frames are lost
    await asyncio.wait_for(asyncio.gather(*running_replies.tasks), timeout=30)
    layer_behind_a_proxy.restore()

    reply = await stored(reply_id)
    assert reply.status == "completed"
    text = "".join(i.text for i in reply.content.all() if i.type == "output_text")
    assert text == demo_reply("Keep going")
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_json_to({"type": "sync", "message_id": reply_id, "after_seq": 0})
    caught_up = await receive_until(tab, finished(reply_id))
    assert text_of(caught_up[-1]["message"]) == text
    await tab.disconnect()


async def test_a_silent_channel_layer_holds_up_no_frame_to_this_processs_tabs(
    conversation, alice, settings, running_replies, layer_behind_a_proxy
):
    settings.DEMO_STREAM_DELAY = 0.02
    _, tab = await open_socket(conversation.id, alice)

    # A partition: Redis refuses nothing and answers nothing. The tab is in this process,
    # so the reply's frames reach it directly, whatever the layer does.
    layer_behind_a_proxy.silence()
    await tab.send_json_to({"type": "message.create", "content": "Keep going"})
    seen = await receive_until(tab, finished(), timeout=5)

    final = seen[-1]["message"]
    assert text_of(final) == demo_reply("Keep going")
    assert streamed_text(seen, final["id"]) == text_of(final)
    layer_behind_a_proxy.restore()
    await tab.disconnect()


async def test_a_tab_opened_while_the_channel_layer_is_silent_chats_all_the_same(
    conversation, alice, settings, running_replies, layer_behind_a_proxy
):
    settings.DEMO_STREAM_DELAY = 0.01
    layer_behind_a_proxy.silence()

    # It cannot join its groups (it hears nothing from other processes meanwhile), but it
    # is not kept waiting for them beyond a moment either.
    connected, tab = await open_socket(conversation.id, alice, timeout=5)
    assert connected
    await tab.send_json_to({"type": "message.create", "content": "Hello"})
    seen = await receive_until(tab, finished(), timeout=5)

    assert text_of(seen[-1]["message"]) == demo_reply("Hello")
    layer_behind_a_proxy.restore()
    await tab.disconnect()


async def test_while_the_channel_layer_is_silent_one_socket_waits_for_it_not_each(
    conversation, alice, settings, running_replies, layer_behind_a_proxy, monkeypatch
):
    # Long enough to tell a socket that waits for the layer from one that does not.
    monkeypatch.setattr(fanout, "LAYER_TIMEOUT", 4.0)
    settings.DEMO_STREAM_DELAY = 0.01
    layer_behind_a_proxy.silence()
    connected, first = await open_socket(conversation.id, alice, timeout=10)
    assert connected

    # The layer did not answer the first: for a while, the next do without it at once.
    tabs = []
    for _ in range(3):
        connected, tab = await open_socket(conversation.id, alice, timeout=2)
        assert connected
        tabs.append(tab)
    await tabs[-1].send_json_to({"type": "message.create", "content": "Hello"})
    seen = await receive_until(tabs[-1], finished(), timeout=3)

    assert text_of(seen[-1]["message"]) == demo_reply("Hello")
    layer_behind_a_proxy.restore()
    for tab in [first, *tabs]:
        await tab.disconnect()


async def test_many_replies_at_once_each_reach_their_tab_whole(alice, settings, running_replies):
    settings.DEMO_STREAM_DELAY = 0.01
    conversations = [await database_sync_to_async(make_conversation)(alice) for _ in range(40)]
    tabs = [(await open_socket(c.id, alice))[1] for c in conversations]
    for index, tab in enumerate(tabs):
        await tab.send_json_to({"type": "message.create", "content": f"Question {index}"})

    seen = await asyncio.gather(*(receive_until(tab, finished()) for tab in tabs))

    for index, frames in enumerate(seen):
        final = frames[-1]["message"]
        assert final["status"] == "completed"
        assert text_of(final) == demo_reply(f"Question {index}")
        reply_id = final["id"]
        assert streamed_text(frames, reply_id) == text_of(final)
    for tab in tabs:
        await tab.disconnect()

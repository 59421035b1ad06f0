import json

import pytest

from conversations import generation
from conversations.events import send_event
from tests.factories import make_conversation
from tests.websocket import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(alice):
    return make_conversation(alice, title="Sockets")


async def test_owner_connects_and_hears_conversation_events(conversation, alice):
    connected, tab = await open_socket(conversation.id, alice)
    assert connected
    await send_event(conversation.id, {"type": "conversation.updated", "title": "New"})
    assert await tab.receive_json_from() == {"type": "conversation.updated", "title": "New"}
    await tab.disconnect()


@pytest.mark.parametrize("who", ["anonymous", "other user", "bad origin", "no origin"])
async def test_everyone_else_is_refused_before_accept(conversation, alice, bob, who):
    user = {"anonymous": None, "other user": bob}.get(who, alice)
    origin = {"bad origin": b"https://evil.example", "no origin": None}.get(
        who, b"http://127.0.0.1"
    )
    connected, tab = await open_socket(conversation.id, user, origin=origin)
    assert not connected
    await tab.disconnect()


async def test_unknown_or_malformed_conversation_id_is_refused(alice):
    for conversation_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        connected, tab = await open_socket(conversation_id, alice)
        assert not connected
        await tab.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"no_type": true}', "invalid_frame"),
        ('{"type": "message.teleport"}', "unknown_type"),
    ],
)
async def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(
    conversation, alice, raw, code
):
    connected, tab = await open_socket(conversation.id, alice)
    assert connected
    await tab.send_to(text_data=raw)
    error = await tab.receive_json_from()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]
    # Still open: the next event arrives.
    await send_event(conversation.id, {"type": "conversation.updated"})
    assert json.loads(await tab.receive_from()) == {"type": "conversation.updated"}
    await tab.disconnect()


@pytest.fixture
async def running_replies():
    yield
    await generation.replies.shutdown()


def create_frame(content: str) -> str:
    return '{"type": "message.create", "content": ' + content + "}"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (create_frame("[" * 100_000 + "]" * 100_000), "invalid_json"),
        (create_frame('[{"type": "input_text", "text": "x", "n": NaN}]'), "invalid_json"),
        (create_frame(f'[{{"type": "input_text", "text": "x", "n": {10**30}}}]'), "invalid_json"),
        (create_frame('[{"type": "input_text", "text": "x", "file_id": [1]}]'), "invalid_content"),
        (create_frame('[{"type": "input_text", "text": "x", "file_id": 5}]'), "invalid_content"),
        (
            create_frame('"x", "references": [{"content": "x", "type": "%s"}]' % ("t" * 40)),
            "invalid_content",
        ),
    ],
    ids=["deep nesting", "nan", "huge int", "file_id list", "file_id number", "reference type"],
)
async def test_a_malformed_frame_gets_an_error_and_the_socket_still_replies(
    conversation, alice, running_replies, raw, code
):
    _, tab = await open_socket(conversation.id, alice)
    await tab.send_to(text_data=raw)
    error = await tab.receive_json_from()
    assert (error["type"], error["code"]) == ("error", code), error
    await tab.send_json_to({"type": "message.create", "content": "Still there?"})
    while (frame := await tab.receive_json_from(timeout=10))["type"] != "message.completed":
        assert frame["type"] != "error", frame
    assert "Still there?" in frame["message"]["content"][-1]["text"]
    await tab.disconnect()

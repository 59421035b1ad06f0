import json

import pytest

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


BAD_ORIGINS = {
    "bad origin": b"https://evil.example",
    "no origin": None,
    # The same host name, but another site to the browser: its pages must not use the
    # user's cookie to read or write conversations.
    "other port": b"http://127.0.0.1:9999",
    "other scheme": b"https://127.0.0.1",
    "null origin": b"null",
}


@pytest.mark.parametrize("who", ["anonymous", "other user", *BAD_ORIGINS])
async def test_everyone_else_is_refused_before_accept(conversation, alice, bob, who):
    user = {"anonymous": None, "other user": bob}.get(who, alice)
    origin = BAD_ORIGINS.get(who, b"http://127.0.0.1")
    connected, tab = await open_socket(conversation.id, user, origin=origin)
    assert not connected
    await tab.disconnect()


async def test_a_trusted_origin_may_connect(conversation, alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    for origin in (b"https://chat.example.com", b"https://app.example.org"):
        connected, tab = await open_socket(conversation.id, alice, origin=origin)
        assert connected
        await tab.disconnect()
    connected, tab = await open_socket(conversation.id, alice, origin=b"http://chat.example.com")
    assert not connected
    await tab.disconnect()


async def test_behind_a_tls_proxy_the_origin_is_https(conversation, alice, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = [(b"x-forwarded-proto", b"https")]
    connected, tab = await open_socket(
        conversation.id, alice, origin=b"https://127.0.0.1", headers=forwarded
    )
    assert connected
    await tab.disconnect()
    connected, tab = await open_socket(
        conversation.id, alice, origin=b"http://127.0.0.1", headers=forwarded
    )
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

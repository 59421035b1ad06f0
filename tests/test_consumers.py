import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from chatproject.asgi import application
from conversations.events import send_event
from conversations.models import Message
from tests.factories import make_conversation
from tests.websocket import ORIGIN, logged_in_browser, open_socket, session_cookie

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


async def test_a_socket_to_no_route_is_refused_not_a_server_error(alice):
    """A page of this site opening a socket nothing serves gets its handshake refused
    (uvicorn answered Channels' "No route found" with a 500)."""
    headers = [(b"host", b"127.0.0.1"), (b"origin", ORIGIN)]
    headers.append((b"cookie", (await session_cookie(alice)).encode()))
    for path in ("/ws/", "/ws/x/", "/ws/conversations/", "/elsewhere/"):
        tab = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await tab.connect()
        assert not connected, path
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


async def test_a_ping_is_answered_with_a_pong(conversation, alice):
    connected, tab = await open_socket(conversation.id, alice)
    assert connected
    await tab.send_json_to({"type": "ping"})
    assert await tab.receive_json_from() == {"type": "pong"}
    await tab.disconnect()


async def test_a_refused_message_is_answered_with_its_idempotency_key(
    conversation, alice, settings
):
    settings.CHAT_MAX_MESSAGE_CHARS = 5
    connected, tab = await open_socket(conversation.id, alice)
    assert connected
    frame = {"type": "message.create", "content": "too long", "idempotency_key": "k-1"}
    await tab.send_json_to(frame)
    error = await tab.receive_json_from()
    assert (error["type"], error["code"], error["idempotency_key"]) == (
        "error",
        "content_too_long",
        "k-1",
    )
    await tab.disconnect()


async def assert_logged_out(tab):
    """The tab hears it is logged out, and its socket closes with code 4401."""
    error = await tab.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "not_authenticated")
    assert await tab.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_logging_out_closes_the_sockets_of_that_session(conversation, alice):
    browser = await logged_in_browser(alice)
    connected, tab = await open_socket(conversation.id, browser=browser)
    assert connected
    _, phone = await open_socket(conversation.id, alice)  # another session of alice's
    response = await sync_to_async(browser.post)("/accounts/logout/")
    assert response.status_code == 302
    await assert_logged_out(tab)
    # Her other session is still logged in, and its socket still hears the conversation.
    await send_event(conversation.id, {"type": "conversation.updated"})
    assert await phone.receive_json_from() == {"type": "conversation.updated"}
    await phone.disconnect()


async def test_a_frame_on_a_socket_whose_session_ended_is_refused(conversation, alice):
    _, tab = await open_socket(conversation.id, alice)
    # A password change ends her other sessions (as would their deletion or expiry).
    await sync_to_async(alice.set_password)("a-new-password")
    await sync_to_async(alice.save)()
    await tab.send_json_to({"type": "message.create", "content": "Still there?"})
    await assert_logged_out(tab)
    assert not await Message.objects.filter(conversation=conversation).aexists()


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

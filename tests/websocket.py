"""Open the real ASGI application's websocket as a logged-in browser tab would."""

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chatproject.asgi import application

ORIGIN = b"http://127.0.0.1"


@sync_to_async
def logged_in_browser(user) -> Client:
    """A test client with a session of its own logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def cookie_of(browser: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


async def session_cookie(user) -> str:
    return cookie_of(await logged_in_browser(user))


async def open_socket(
    conversation_id, user=None, origin=ORIGIN, headers=(), browser=None, timeout=1
):
    """Connect to a conversation's socket, as a page served at http://127.0.0.1 would
    (plus any other `headers`), in a new session of `user` or in the session of
    `browser` (a logged-in test client), waiting `timeout` seconds for the handshake;
    returns (connected, communicator)."""
    headers = [(b"host", b"127.0.0.1"), *headers]
    if origin:
        headers.append((b"origin", origin))
    if browser is not None:
        headers.append((b"cookie", cookie_of(browser).encode()))
    elif user is not None:
        headers.append((b"cookie", (await session_cookie(user)).encode()))
    communicator = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation_id}/", headers=headers
    )
    connected, _ = await communicator.connect(timeout=timeout)
    return connected, communicator

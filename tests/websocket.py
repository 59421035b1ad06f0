"""Open the real ASGI application's websocket as a logged-in browser tab would."""

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chatproject.asgi import application

ORIGIN = b"http://127.0.0.1"


@sync_to_async
def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def open_socket(conversation_id, user=None, origin=ORIGIN, headers=()):
    """Connect to a conversation's socket, as a page served at http://127.0.0.1 would
    (plus any other `headers`); returns (connected, communicator)."""
    headers = [(b"host", b"127.0.0.1"), *headers]
    if origin:
        headers.append((b"origin", origin))
    if user is not None:
        headers.append((b"cookie", (await session_cookie(user)).encode()))
    communicator = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation_id}/", headers=headers
    )
    connected, _ = await communicator.connect()
    return connected, communicator

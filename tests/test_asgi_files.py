"""Files reach ASGI clients whole, read in chunks rather than all at once with a warning."""

import warnings

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile

from chatproject.asgi import application
from conversations import services
from conversations.asgi_files import CHUNK_SIZE
from tests.websocket import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


async def get(path, headers=None):
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path, headers=headers)


async def test_a_static_file_is_served_whole():
    with open(finders.find("conversations/chat.js"), "rb") as handle:
        expected = handle.read()

    response = await get("/static/conversations/chat.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == expected


async def test_a_static_file_not_modified_is_answered_without_a_body():
    etag = (await get("/static/conversations/chat.js")).headers["etag"]

    response = await get("/static/conversations/chat.js", headers={"if-none-match": etag})

    assert response.status_code == 304
    assert response.content == b""


async def test_an_attachment_larger_than_a_chunk_downloads_whole(alice):
    data = bytes(range(256)) * (3 * CHUNK_SIZE // 256 + 7)
    upload = SimpleUploadedFile("big.bin", data, content_type="application/octet-stream")
    attachment = await sync_to_async(services.attachment_create)(owner=alice, file=upload)

    response = await get(
        f"/api/attachments/{attachment.id}/", headers={"cookie": await session_cookie(alice)}
    )

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(data))
    assert 'attachment; filename="big.bin"' in response.headers["content-disposition"]
    assert response.content == data

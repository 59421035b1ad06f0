"""/api/chat's permissions and refusals: session (with CSRF) or token; anonymous refused;
another user's chat a 404 on every route; bad input a clear 400, nothing stored."""

import httpx
import pytest
from django.test import Client

from conversations import services
from conversations.models import Conversation, Message

from .conftest import read_stream, user_message

FIRST = {"id": "mine", "messages": [user_message("u1", "Hi")], "trigger": "submit-message"}


def test_anonymous_requests_are_refused(server_url, db):
    for method, path in [
        ("POST", "/api/chat"),
        ("GET", "/api/chat/mine"),
        ("GET", "/api/chat/mine/stream"),
    ]:
        response = httpx.request(
            method, f"{server_url}{path}", json=FIRST if method == "POST" else None
        )
        assert response.status_code in (401, 403), (method, path)
    assert not Conversation.objects.exists()


def test_a_browser_session_needs_its_csrf_token(server_url, alice):
    login = Client()
    login.force_login(alice)
    browser = httpx.Client(
        base_url=server_url, cookies={"sessionid": login.cookies["sessionid"].value}
    )

    refused = browser.post("/api/chat", json=FIRST)
    browser.get("/")  # the chat page sets the CSRF cookie
    token = browser.cookies["csrftoken"]
    with browser.stream(
        "POST", "/api/chat", json=FIRST, headers={"X-CSRFToken": token}
    ) as response:
        accepted = read_stream(response)

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert accepted.status == 200 and accepted.done
    assert accepted.types()[-1] == "finish"


def test_another_users_chat_is_a_404_and_their_chat_ids_never_collide(
    chat, server_url, alice, bob_token
):
    chat(FIRST)
    conversation = Conversation.objects.get(owner=alice)
    bob = {"Authorization": f"Token {bob_token}"}

    for chat_id in ("mine", str(conversation.id)):
        for path in (f"/api/chat/{chat_id}", f"/api/chat/{chat_id}/stream"):
            assert httpx.get(f"{server_url}{path}", headers=bob).status_code == 404, path
    regenerate = {**FIRST, "id": str(conversation.id), "trigger": "regenerate-message"}
    assert chat(regenerate, token=bob_token).status == 404

    # Bob's own "mine" is another conversation.
    bobs = chat({**FIRST, "messages": [user_message("u1", "Bob here")]}, token=bob_token)
    assert bobs.status == 200
    assert Conversation.objects.get(chat_id="mine", owner__username="bob") != conversation
    assert Message.objects.filter(conversation=conversation).count() == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**FIRST, "trigger": "resume-stream"}, "invalid"),
        ({**FIRST, "id": "a/b"}, "invalid"),
        ({**FIRST, "messages": []}, "invalid"),
        ({key: value for key, value in FIRST.items() if key != "messages"}, "invalid"),
        (
            {**FIRST, "messages": [{"id": "a1", "role": "assistant", "parts": []}]},
            "invalid_content",
        ),
        ({**FIRST, "messages": [user_message("u1", "  ")]}, "empty_content"),
        ({**FIRST, "messages": [{"role": "user", "parts": []}]}, "invalid_content"),
        (
            {**FIRST, "messages": [{"id": "u1", "role": "user", "parts": [{"type": "image"}]}]},
            "invalid_content",
        ),
        (
            {
                **FIRST,
                "messages": [
                    user_message(
                        "u1",
                        "x",
                        {
                            "type": "file",
                            "mediaType": "image/png",
                            "url": "data:image/png;base64,@@",
                        },
                    )
                ],
            },
            "invalid_attachment",
        ),
        (
            {
                **FIRST,
                "messages": [
                    user_message(
                        "u1", "x", {"type": "file", "mediaType": "text/plain", "url": "ftp://x/y"}
                    )
                ],
            },
            "invalid_content",
        ),
    ],
)
def test_bad_requests_are_400_and_store_nothing(chat, body, code):
    stream = chat(body)

    assert stream.status == 400, stream.body
    assert f'"code":"{code}"' in stream.body.replace(" ", "")
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


def test_an_edit_or_regenerate_of_an_unknown_message_is_a_400(chat):
    chat(FIRST)
    edit = {**FIRST, "messageId": "nope", "messages": [user_message("nope", "x")]}
    regenerate = {**FIRST, "trigger": "regenerate-message", "messageId": "nope"}

    assert chat(edit).status == 400
    assert chat(regenerate).status == 400
    assert Message.objects.count() == 2


def test_an_unknown_chat_has_nothing_to_regenerate_or_read(chat, server_url, alice_token):
    auth = {"Authorization": f"Token {alice_token}"}

    assert chat({**FIRST, "trigger": "regenerate-message"}).status == 404
    assert httpx.get(f"{server_url}/api/chat/unknown", headers=auth).status_code == 404


def test_a_chat_id_no_chat_can_have_is_a_404(chat, server_url, alice_token):
    """Ids the POST refuses (a NUL, a space, a lone surrogate) name no chat in a URL either:
    PostgreSQL cannot even be asked about a NUL."""
    chat(FIRST)
    auth = {"Authorization": f"Token {alice_token}"}

    for chat_id in ("%00", "mi%00ne", "mi%20ne", "%ED%A0%80", "a" * 201):
        for path in (f"/api/chat/{chat_id}", f"/api/chat/{chat_id}/stream"):
            response = httpx.get(f"{server_url}{path}", headers=auth)
            assert response.status_code == 404, (path, response.text)
    assert httpx.get(f"{server_url}/api/chat/mine", headers=auth).status_code == 200


def test_a_busy_chat_refuses_more_than_its_queue(chat, alice, settings):
    settings.CHAT_QUEUE_LIMIT = 0
    conversation = services.conversation_create(owner=alice)
    services.message_continue(
        owner=conversation.owner, conversation_id=conversation.id, content="Running"
    )  # never started

    stream = chat({**FIRST, "id": str(conversation.id)})

    assert stream.status == 409
    assert "generation_busy" in stream.body

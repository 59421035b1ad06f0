"""Resuming: the reply belongs to the server, so a client that drops its stream (or a new
tab) reads it again from `start` through GET /api/chat/<id>/stream, and GET
/api/chat/<id> gives the branch as UIMessages for `useChat`'s initial messages."""

import base64

import httpx

from conversations import services
from conversations.models import Message
from tests.servers import wait_until_finished

from .conftest import read_stream, user_message

TOKENS = [f"w{number} " for number in range(150)]


def test_a_dropped_stream_is_replayed_whole_from_start(fake_openai, chat, server_url, alice_token):
    fake_openai.reply(TOKENS, pace=0.02)
    auth = {"Authorization": f"Token {alice_token}"}
    body = {"id": "c", "messages": [user_message("u1", "Count")], "trigger": "submit-message"}

    dropped = chat(body, stop_after=6)
    with httpx.stream("GET", f"{server_url}/api/chat/c/stream", headers=auth, timeout=30) as r:
        resumed = read_stream(r)

    assert dropped.types()[:3] == ["start", "start-step", "text-start"]
    assert resumed.status == 200
    assert resumed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert resumed.message_id() == dropped.message_id()
    assert resumed.types()[:3] == ["start", "start-step", "text-start"]
    assert resumed.types()[-2:] == ["finish-step", "finish"] and resumed.done
    # The whole reply exactly once: no delta lost, none doubled.
    assert resumed.text() == "".join(TOKENS)
    reply = wait_until_finished(dropped.message_id())
    assert reply.status == "completed"
    assert reply.content.get(type="output_text").text == "".join(TOKENS)
    ended = httpx.get(f"{server_url}/api/chat/c/stream", headers=auth)
    assert ended.status_code == 204


def test_nothing_running_is_a_204(chat, server_url, alice_token):
    chat({"id": "c", "messages": [user_message("u1", "Hi")], "trigger": "submit-message"})

    response = httpx.get(
        f"{server_url}/api/chat/c/stream", headers={"Authorization": f"Token {alice_token}"}
    )

    assert response.status_code == 204 and response.content == b""


def test_the_chat_reads_as_ui_messages(fake_openai, chat, server_url, alice, alice_token):
    conversation = services.conversation_create(owner=alice, tools=["calculate"])
    png = base64.b64encode(b"\x89PNG fake").decode()
    picture = {"type": "file", "mediaType": "image/png", "filename": "p.png",
               "url": f"data:image/png;base64,{png}"}  # fmt: skip
    fake_openai.reply("Thinking done.", reasoning="Hmm.")
    first = chat(
        {
            "id": str(conversation.id),
            "messages": [user_message("u1", "Look", picture)],
            "trigger": "submit-message",
        }
    )
    fake_openai.reply(tool_calls=[("call_1", "calculate", '{"expression": "2+2"}')])
    fake_openai.reply("Four.")
    second = chat(
        {
            "id": str(conversation.id),
            "messages": [user_message("u2", "2+2?")],
            "trigger": "submit-message",
        }
    )

    response = httpx.get(
        f"{server_url}/api/chat/{conversation.id}",
        headers={"Authorization": f"Token {alice_token}"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(conversation.id)
    assert body["conversation"]["id"] == str(conversation.id)
    question, answer, question2, answer2 = body["messages"]
    upload = Message.objects.get(id=question["id"]).content.first().data["file_id"]
    assert question["role"] == "user"
    assert question["parts"] == [
        {
            "type": "file",
            "mediaType": "image/png",
            "filename": "p.png",
            "url": f"{server_url}/api/attachments/{upload}/",
        },
        {"type": "text", "text": "Look"},
    ]
    assert answer == {
        "id": first.message_id(),
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "Hmm.", "state": "done"},
            {"type": "text", "text": "Thinking done.", "state": "done"},
        ],
    }
    assert question2["parts"] == [{"type": "text", "text": "2+2?"}]
    assert answer2["id"] == second.message_id()
    assert answer2["parts"] == [
        {"type": "step-start"},
        {
            "type": "dynamic-tool",
            "toolName": "calculate",
            "toolCallId": "call_1",
            "state": "output-available",
            "input": {"expression": "2+2"},
            "output": {"expression": "2+2", "value": 4},
        },
        {"type": "step-start"},
        {"type": "text", "text": "Four.", "state": "done"},
    ]
    picture_download = httpx.get(
        question["parts"][0]["url"], headers={"Authorization": f"Token {alice_token}"}
    )
    assert picture_download.content == base64.b64decode(png)

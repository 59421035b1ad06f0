"""POST /api/chat: the UI message stream's shape, and each trigger on the message tree."""

import base64

import httpx

from conversations import services
from conversations.models import Attachment, Conversation, Message
from tests.servers import wait_until_finished

from .conftest import AI5_CHUNK_FIELDS, user_message


def test_a_first_turn_streams_the_stored_reply_in_the_ai5_chunk_shape(fake_openai, chat, alice):
    fake_openai.reply("Hello there, world!", reasoning=["User ", "greets."])

    stream = chat(
        {"id": "chat-1", "messages": [user_message("u1", "Hi")], "trigger": "submit-message"}
    )

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert stream.done
    for chunk in stream.chunks:
        assert set(chunk) - {"type"} <= AI5_CHUNK_FIELDS[chunk["type"]], chunk
    types = stream.types()
    assert types[:3] == ["start", "start-step", "reasoning-start"]
    assert types[-4:] == ["text-delta", "text-end", "finish-step", "finish"]
    assert types.index("reasoning-end") < types.index("text-start")
    conversation = Conversation.objects.get(owner=alice, chat_id="chat-1")
    reply = wait_until_finished(stream.message_id())
    assert reply.conversation == conversation and reply.role == "assistant"
    assert stream.text() == "Hello there, world!" == reply.content.get(type="output_text").text
    assert stream.text("reasoning") == "User greets."
    assert conversation.title == "Hi"


def test_submit_message_appends_under_the_stored_branch(fake_openai, chat):
    fake_openai.reply("First answer")
    first = chat({"id": "c", "messages": [user_message("u1", "One")], "trigger": "submit-message"})
    fake_openai.reply("Second answer")
    history = [
        user_message("u1", "One"),
        {"id": first.message_id(), "role": "assistant", "parts": [{"type": "text", "text": "x"}]},
        user_message("u2", "Two"),
    ]

    second = chat({"id": "c", "messages": history, "trigger": "submit-message"})

    assert second.text() == "Second answer"
    sent = fake_openai.requests[-1].body["messages"]
    # The stored reply goes to the model, not the client's copy of it.
    assert [(m["role"], m["content"]) for m in sent if m["role"] != "system"] == [
        ("user", "One"),
        ("assistant", "First answer"),
        ("user", "Two"),
    ]
    reply = Message.objects.get(id=second.message_id())
    assert reply.parent.parent_id == Message.objects.get(id=first.message_id()).id
    assert reply.conversation.current_leaf_id == reply.id


def test_the_persistence_docs_body_of_the_last_message_alone_submits_it(fake_openai, chat):
    first = chat({"id": "c", "messages": [user_message("u1", "One")], "trigger": "submit-message"})
    fake_openai.reply("Two it is")

    # prepareSendMessagesRequest: ({id, messages}) => ({body: {id, message: messages.at(-1)}})
    second = chat({"id": "c", "message": user_message("u2", "Two")})

    assert second.text() == "Two it is"
    assert str(Message.objects.get(id=second.message_id()).parent.parent_id) == first.message_id()


def test_a_request_sent_twice_stores_nothing_twice(fake_openai, chat):
    body = {"id": "c", "messages": [user_message("u1", "Once")], "trigger": "submit-message"}
    first = chat(body)

    again = chat(body)

    assert again.message_id() == first.message_id()
    assert again.text() == first.text() == "Hello from the fake upstream."
    assert again.types()[-2:] == ["finish-step", "finish"]
    assert Message.objects.count() == 2
    assert len(fake_openai.requests) == 1


def test_regenerate_writes_a_sibling_reply(fake_openai, chat):
    fake_openai.reply("Take one")
    first = chat({"id": "c", "messages": [user_message("u1", "Go")], "trigger": "submit-message"})
    fake_openai.reply("Take two")

    # regenerate(): the client drops its last (assistant) message.
    again = chat(
        {"id": "c", "messages": [user_message("u1", "Go")], "trigger": "regenerate-message"}
    )

    assert again.text() == "Take two"
    old, new = (
        Message.objects.get(id=first.message_id()),
        Message.objects.get(id=again.message_id()),
    )
    assert old.parent_id == new.parent_id and old.id != new.id
    assert new.conversation.current_leaf_id == new.id
    assert Message.objects.filter(role="user").count() == 1


def test_regenerate_with_a_message_id_answers_that_reply_again(fake_openai, chat):
    first = chat({"id": "c", "messages": [user_message("u1", "Go")], "trigger": "submit-message"})
    fake_openai.reply("Another")

    again = chat(
        {
            "id": "c",
            "messages": [user_message("u1", "Go")],
            "trigger": "regenerate-message",
            "messageId": first.message_id(),
        }
    )

    assert again.text() == "Another"
    new = Message.objects.get(id=again.message_id())
    assert new.parent_id == Message.objects.get(id=first.message_id()).parent_id


def test_an_edit_makes_a_new_branch_and_the_model_reads_only_it(fake_openai, chat):
    first = chat(
        {"id": "c", "messages": [user_message("u1", "Paris?")], "trigger": "submit-message"}
    )
    history = [
        user_message("u1", "Paris?"),
        {"id": first.message_id(), "role": "assistant", "parts": []},
        user_message("u2", "And Rome?"),
    ]
    chat({"id": "c", "messages": history, "trigger": "submit-message"})
    fake_openai.reply("About Lyon")

    # sendMessage({text, messageId: 'u1'}): the client cuts after u1 and keeps its id.
    edited = chat(
        {
            "id": "c",
            "messages": [user_message("u1", "Lyon?")],
            "trigger": "submit-message",
            "messageId": "u1",
        }
    )

    assert edited.text() == "About Lyon"
    sent = fake_openai.requests[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in sent if m["role"] != "system"] == [("user", "Lyon?")]
    reply = Message.objects.get(id=edited.message_id())
    original = Message.objects.get(id=first.message_id()).parent
    assert reply.parent.parent_id == original.parent_id and reply.parent_id != original.id
    assert Message.objects.filter(role="user").count() == 3  # the old branch stays


def test_a_server_side_tool_call_streams_as_a_dynamic_tool_then_a_new_step(
    fake_openai, chat, alice
):
    conversation = services.conversation_create(owner=alice, tools=["calculate"])
    fake_openai.reply(tool_calls=[("call_1", "calculate", '{"expression": "6*7"}')])
    fake_openai.reply("It is 42.")

    stream = chat(
        {
            "id": str(conversation.id),  # a conversation's own id names its chat too
            "messages": [user_message("u1", "6 times 7?")],
            "trigger": "submit-message",
        }
    )

    for chunk in stream.chunks:
        assert set(chunk) - {"type"} <= AI5_CHUNK_FIELDS[chunk["type"]], chunk
    tool = [c for c in stream.chunks if c["type"].startswith("tool-")]
    assert tool[0] == {
        "type": "tool-input-start",
        "toolCallId": "call_1",
        "toolName": "calculate",
        "dynamic": True,
    }
    assert tool[-2]["type"] == "tool-input-available"
    assert tool[-2]["input"] == {"expression": "6*7"}
    assert tool[-1] == {
        "type": "tool-output-available",
        "toolCallId": "call_1",
        "output": {"expression": "6*7", "value": 42},
        "dynamic": True,
    }
    types = stream.types()
    after_output = types[types.index("tool-output-available") + 1 :]
    assert after_output[:3] == ["finish-step", "start-step", "text-start"]
    assert stream.text() == "It is 42."
    assert Message.objects.get(id=stream.message_id()).conversation_id == conversation.id


def test_an_upstream_error_ends_the_stream_with_an_error_chunk(fake_openai, chat):
    fake_openai.error(400, "The model refused this request.", code="invalid_request")

    stream = chat({"id": "c", "messages": [user_message("u1", "Hi")], "trigger": "submit-message"})

    assert stream.types() == ["start", "start-step", "error", "finish-step", "finish"]
    assert "refused" in stream.chunks[2]["errorText"]
    assert stream.done
    assert wait_until_finished(stream.message_id()).status == "failed"


def test_a_stopped_reply_ends_with_abort_and_keeps_its_text(
    fake_openai, chat, server_url, alice_token
):
    fake_openai.reply([f"w{n} " for n in range(200)], pace=0.02)
    auth = {"Authorization": f"Token {alice_token}"}
    body = {"id": "c", "messages": [user_message("u1", "Long")], "trigger": "submit-message"}

    with httpx.stream("POST", f"{server_url}/api/chat", json=body, headers=auth, timeout=30) as r:
        lines = r.iter_lines()
        reply_id = next(line for line in lines if '"start"' in line).split('"messageId": "')[1][:36]
        httpx.post(f"{server_url}/api/messages/{reply_id}/cancel/", headers=auth).raise_for_status()
        rest = [line for line in lines if line.startswith("data: ")]

    assert rest[-1] == "data: [DONE]"
    assert rest[-2] == 'data: {"type": "abort"}'
    assert wait_until_finished(reply_id).status == "cancelled"


def test_a_file_sent_as_a_data_url_is_stored_as_an_upload(fake_openai, chat, alice):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image bytes").decode()
    picture = {"type": "file", "mediaType": "image/png", "filename": "a.png",
               "url": f"data:image/png;base64,{png}"}  # fmt: skip

    stream = chat(
        {
            "id": "c",
            "messages": [user_message("u1", "What is it?", picture)],
            "trigger": "submit-message",
        }
    )

    assert stream.types()[-1] == "finish"
    upload = Attachment.objects.get(owner=alice)
    assert (upload.name, upload.content_type, upload.file.read()) == (
        "a.png", "image/png", base64.b64decode(png)
    )  # fmt: skip
    question = Message.objects.get(id=stream.message_id()).parent
    items = [(item.type, item.data.get("file_id")) for item in question.content.all()]
    assert items == [("input_image", str(upload.id)), ("input_text", None)]
    sent = fake_openai.requests[-1].body["messages"][-1]["content"]
    assert sent[0]["image_url"]["url"] == f"data:image/png;base64,{png}"


def test_a_data_url_with_odd_names_and_types_is_stored_safely(fake_openai, chat, alice):
    odd = {"type": "file", "mediaType": "text/plain", "filename": "a\x00b.txt",
           "url": "data:\x00/\x00;base64,aGk="}  # fmt: skip

    stream = chat(
        {"id": "c", "messages": [user_message("u1", "Read it", odd)], "trigger": "submit-message"}
    )

    assert stream.types()[-1] == "finish"
    upload = Attachment.objects.get(owner=alice)
    assert (upload.name, upload.content_type, upload.file.read()) == (
        "a\ufffdb.txt", "application/octet-stream", b"hi"
    )  # fmt: skip


def test_a_message_sent_while_a_reply_runs_streams_its_reply_once_that_one_ends(
    fake_openai, chat, server_url, alice_token
):
    fake_openai.reply([f"a{n} " for n in range(100)], pace=0.02)
    fake_openai.reply("Second")
    auth = {"Authorization": f"Token {alice_token}"}
    first_body = {"id": "c", "messages": [user_message("u1", "One")], "trigger": "submit-message"}

    with httpx.stream(
        "POST", f"{server_url}/api/chat", json=first_body, headers=auth, timeout=30
    ) as running:
        next(line for line in running.iter_lines() if "text-delta" in line)
        second = chat(
            {"id": "c", "messages": [user_message("u2", "Two")], "trigger": "submit-message"}
        )

    assert second.text() == "Second"
    assert second.types()[-2:] == ["finish-step", "finish"]
    reply = Message.objects.get(id=second.message_id())
    assert reply.status == "completed"
    assert reply.parent.parent.status == "completed"  # the first reply, run to its end


def test_the_model_sent_in_the_body_writes_the_reply_and_regenerate_can_pick_another(
    fake_openai, chat
):
    fake_openai.models = ["fake-model", "big-model"]
    fake_openai.reply("From the big one")
    first = chat(
        {"id": "m", "messages": [user_message("u1", "Hi")], "model": "big-model"},
    )
    fake_openai.reply("From the default one")
    again = chat({"id": "m", "messages": [user_message("u1", "Hi")], "model": "fake-model",
                  "trigger": "regenerate-message"})  # fmt: skip

    assert first.text() == "From the big one"
    assert wait_until_finished(first.message_id()).model == "big-model"
    assert wait_until_finished(again.message_id()).model == "fake-model"
    assert [request.body["model"] for request in fake_openai.model_requests()] == [
        "big-model",
        "fake-model",
    ]


def test_a_model_not_offered_is_a_400_and_nothing_is_stored(fake_openai, chat, alice):
    fake_openai.models = ["fake-model"]

    stream = chat({"id": "n", "messages": [user_message("u1", "Hi")], "model": "big-model"})

    assert stream.status == 400, stream.body
    assert '"code":"invalid_model"' in stream.body.replace(" ", "")
    assert not Message.objects.filter(conversation__owner=alice).exists()
    assert fake_openai.model_requests() == []

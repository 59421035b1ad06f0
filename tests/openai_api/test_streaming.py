import json
import time

import httpx
import openai
import pytest

from conversations.models import Conversation, Message


def wait_until_finished(seconds=20) -> Message:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = Message.objects.filter(role="assistant").first()
        if reply is not None and reply.is_finished:
            return reply
        time.sleep(0.05)
    raise AssertionError("the reply did not finish")


def test_a_client_that_leaves_a_stream_does_not_stop_the_reply(fake_openai, client):
    tokens = [f"t{number} " for number in range(60)]
    fake_openai.reply(text=tokens, pace=0.02)

    stream = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Count"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()

    reply = wait_until_finished()
    assert reply.status == "completed"
    assert "".join(item.text for item in reply.content.all()) == "".join(tokens)


def test_a_streamed_tool_call_comes_whole_with_its_finish_reason(fake_openai, client):
    fake_openai.reply(tool_calls=[("call_9", "lookup", '{"q": "otters"}')])
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]

    chunks = list(
        client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "Find otters"}],
            tools=tools,
            stream=True,
        )
    )

    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert [(c.index, c.id, c.function.name, c.function.arguments) for c in calls] == [
        (0, "call_9", "lookup", '{"q": "otters"}')
    ]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_a_reply_that_fails_mid_stream_ends_the_stream_without_an_error_chunk(
    fake_openai, server_url, alice_key
):
    fake_openai.reply("Half of it and", cut_after=2)
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "Hi"}], "stream": True}

    with httpx.stream(
        "POST",
        f"{server_url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {alice_key}"},
        timeout=30,
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]

    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all("error" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    reply = wait_until_finished()
    assert reply.status == "incomplete"
    assert streamed == "".join(item.text for item in reply.content.all())
    assert streamed.startswith("Half")


def test_a_stream_whose_reply_is_deleted_raises_in_the_sdk(fake_openai, client, api):
    fake_openai.reply(text=[f"t{number} " for number in range(200)], pace=0.02)
    stream = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Talk"}], stream=True
    )
    conversation_id = None

    with pytest.raises(openai.APIError, match="deleted") as raised:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content and conversation_id is None:
                conversation_id = chunk.model_extra["conversation_id"]
                assert api.delete(f"/api/conversations/{conversation_id}/").status_code == 204

    assert raised.value.code == "reply_deleted"
    assert not Conversation.objects.filter(id=conversation_id).exists()

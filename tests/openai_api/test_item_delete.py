"""`conversations.items.delete`: an item leaves the conversation's item list, the others
stay in order, and the chat's own API reads the conversation as it is then."""

import asyncio

import openai
import pytest

from conversations import services
from conversations.models import Conversation, Message
from tests.websocket import open_socket


def stored(conversation_id: str) -> Conversation:
    return Conversation.objects.get(id=conversation_id.removeprefix("conv_"))


def texts(items) -> list[str]:
    """The text of each item: a message's first part, a reasoning item's summary."""
    return [
        item.content[0].text if item.type == "message" else f"({item.summary[0].text})"
        for item in items
    ]


def every_item(client, conversation_id: str) -> list:
    return list(client.conversations.items.list(conversation_id, order="asc"))


def branch_texts(api, conversation_id: str) -> list[str]:
    """The shown branch as the chat's REST API answers it."""
    response = api.get(f"/api/conversations/{conversation_id.removeprefix('conv_')}/")
    assert response.status_code == 200
    return [
        " ".join(item.get("text", "") for item in message["content"])
        for message in response.json()["messages"]
    ]


@pytest.fixture
def three_turns(fake_openai, client) -> str:
    """A conversation of three questions and answers; its id."""
    first = client.responses.create(model="fake-model", input="q1")
    for number in (2, 3):
        fake_openai.reply(f"a{number}")
        client.responses.create(
            model="fake-model", input=f"q{number}", conversation=first.conversation.id
        )
    return first.conversation.id


def test_a_middle_user_message_leaves_and_the_rest_stays_in_order(client, api, three_turns):
    before = every_item(client, three_turns)
    assert texts(before) == ["q1", "Hello from the fake upstream.", "q2", "a2", "q3", "a3"]
    conversation = stored(three_turns)
    share = services.share_create(
        conversation=conversation,
        user=conversation.owner,
        message=Message.objects.get(content__text="q2"),
    )

    answered = client.conversations.items.delete(before[2].id, conversation_id=three_turns)

    assert (answered.object, answered.id) == ("conversation", three_turns)
    after = every_item(client, three_turns)
    assert [item.id for item in after] == [item.id for item in before if item.id != before[2].id]
    assert texts(after) == ["q1", "Hello from the fake upstream.", "a2", "q3", "a3"]
    assert branch_texts(api, three_turns) == texts(after)
    share.refresh_from_db()
    assert share.revoked_at is not None
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(before[2].id, conversation_id=three_turns)


def test_a_reasoning_item_leaves_and_its_replys_text_stays(fake_openai, client, api):
    fake_openai.reply("The answer is 4.", reasoning="Two and two")
    response = client.responses.create(model="fake-model", input="2+2?")
    conversation_id = response.conversation.id
    [question, reasoning, _] = every_item(client, conversation_id)
    assert reasoning.type == "reasoning"

    client.conversations.items.delete(reasoning.id, conversation_id=conversation_id)

    after = every_item(client, conversation_id)
    assert [item.type for item in after] == ["message", "message"]
    assert texts(after) == ["2+2?", "The answer is 4."]
    assert after[0].id == question.id
    reply = Message.objects.get(id=response.id.removeprefix("resp_"))
    assert [(item.index, item.type) for item in reply.content.all()] == [(0, "output_text")]
    assert branch_texts(api, conversation_id) == ["2+2?", "The answer is 4."]
    assert client.responses.retrieve(response.id).output_text == "The answer is 4."


async def test_a_tab_open_on_the_conversation_shows_the_reply_without_the_item(
    fake_openai, client, alice
):
    fake_openai.reply("The answer is 4.", reasoning="Two and two")
    response = await asyncio.to_thread(client.responses.create, model="fake-model", input="2+2?")
    conversation_id = response.conversation.id
    [_, reasoning, _] = await asyncio.to_thread(every_item, client, conversation_id)
    _, tab = await open_socket(conversation_id.removeprefix("conv_"), alice)

    await asyncio.to_thread(
        client.conversations.items.delete, reasoning.id, conversation_id=conversation_id
    )

    frame = await tab.receive_json_from(timeout=10)
    await tab.disconnect()
    assert frame["type"] == "message.updated"
    assert frame["message"]["id"] == response.id.removeprefix("resp_")
    [item] = frame["message"]["content"]
    assert (item["type"], item["text"]) == ("output_text", "The answer is 4.")
    assert item["html"].strip() == "<p>The answer is 4.</p>"


def test_the_last_reply_leaves_and_the_branch_ends_at_its_question(
    fake_openai, client, api, three_turns
):
    before = every_item(client, three_turns)

    client.conversations.items.delete(before[-1].id, conversation_id=three_turns)

    assert texts(every_item(client, three_turns)) == texts(before)[:-1]
    assert branch_texts(api, three_turns) == texts(before)[:-1]
    fake_openai.reply("a3 again")
    client.responses.create(model="fake-model", input="q4", conversation=three_turns)
    assert texts(every_item(client, three_turns))[-3:] == ["q3", "q4", "a3 again"]


def test_an_item_of_a_running_reply_is_a_409(fake_openai, client):
    fake_openai.reply(text=[f"t{number} " for number in range(200)], pace=0.05)
    stream = client.responses.create(model="fake-model", input="Count slowly", stream=True)
    for event in stream:
        if event.type == "response.output_text.delta":
            break
    reply = Message.objects.get(status=Message.Status.IN_PROGRESS)
    conversation_id = f"conv_{reply.conversation_id}"
    items = every_item(client, conversation_id)

    with pytest.raises(openai.ConflictError) as running:
        client.conversations.items.delete(items[-1].id, conversation_id=conversation_id)
    with pytest.raises(openai.ConflictError) as answered:
        client.conversations.items.delete(items[0].id, conversation_id=conversation_id)
    client.responses.cancel(f"resp_{reply.id}")
    list(stream)

    assert running.value.body["code"] == "generation_busy"
    assert answered.value.body["code"] == "generation_busy"
    assert len(every_item(client, conversation_id)) == 2


def test_an_unknown_item_or_another_users_is_a_404(client, sdk, bob_key):
    created = client.conversations.create(items=[{"role": "user", "content": "Mine."}])
    [item] = every_item(client, created.id)

    with pytest.raises(openai.NotFoundError):
        client.conversations.items.delete("msg_nothing", conversation_id=created.id)
    with pytest.raises(openai.NotFoundError):
        sdk(bob_key).conversations.items.delete(item.id, conversation_id=created.id)

    assert texts(every_item(client, created.id)) == ["Mine."]

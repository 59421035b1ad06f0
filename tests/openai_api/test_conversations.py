import openai
import pytest

from conversations.models import Conversation, Message


def stored(conversation) -> Conversation:
    return Conversation.objects.get(id=conversation.id.removeprefix("conv_"))


def test_a_conversation_is_created_retrieved_updated_and_deleted(client, alice):
    created = client.conversations.create(
        metadata={"topic": "demo"},
        items=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Hello"},
        ],
    )

    assert created.object == "conversation"
    assert created.metadata == {"topic": "demo"}
    conversation = stored(created)
    assert conversation.owner == alice
    assert conversation.system_prompt == "Answer in French."
    assert conversation.title == "Hello"
    assert client.conversations.retrieve(created.id).metadata == {"topic": "demo"}

    updated = client.conversations.update(created.id, metadata={"topic": "rivers"})

    assert updated.metadata == {"topic": "rivers"}
    assert client.conversations.retrieve(created.id).metadata == {"topic": "rivers"}

    deleted = client.conversations.delete(created.id)

    assert (deleted.id, deleted.deleted) == (created.id, True)
    assert not Conversation.objects.exists()
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(created.id)


def test_a_response_in_a_created_conversation_reads_its_items(fake_openai, client):
    created = client.conversations.create(
        items=[
            {"role": "user", "content": "My name is Ann."},
            {"role": "assistant", "content": "Noted."},
        ]
    )
    fake_openai.reply("You are Ann.")

    response = client.responses.create(
        model="fake-model", input="Who am I?", conversation=created.id
    )

    assert response.conversation.id == created.id
    assert [m["content"] for m in fake_openai.model_requests()[-1].body["messages"]] == [
        "My name is Ann.",
        "Noted.",
        "Who am I?",
    ]
    assert Message.objects.count() == 4


def test_items_are_paged_newest_first_and_the_sdk_pages_through_all_of_them(fake_openai, client):
    first = client.responses.create(model="fake-model", input="q0")
    for number in range(1, 4):
        fake_openai.reply(f"a{number}")
        client.responses.create(
            model="fake-model", input=f"q{number}", conversation=first.conversation.id
        )
    conversation_id = first.conversation.id

    every = list(client.conversations.items.list(conversation_id, limit=3))
    oldest_first = list(client.conversations.items.list(conversation_id, limit=2, order="asc"))
    page = client.conversations.items.list(conversation_id, limit=3)

    texts = [item.content[0].text for item in every]
    assert texts == ["a3", "q3", "a2", "q2", "a1", "q1", "Hello from the fake upstream.", "q0"]
    assert [item.id for item in oldest_first] == [item.id for item in reversed(every)]
    assert [item.role for item in every[:2]] == ["assistant", "user"]
    assert (page.first_id, page.last_id, page.has_more) == (every[0].id, every[2].id, True)
    last = client.conversations.items.list(conversation_id, limit=3, after=every[4].id)
    assert [item.id for item in last.data] == [every[5].id, every[6].id, every[7].id]
    assert last.has_more is False
    item = client.conversations.items.retrieve(every[1].id, conversation_id=conversation_id)
    assert item.content[0].text == "q3"


def test_an_item_list_with_a_bad_limit_or_cursor_is_refused(client):
    created = client.conversations.create(items=[{"role": "user", "content": "Hi"}])

    with pytest.raises(openai.BadRequestError):
        client.conversations.items.list(created.id, limit=101)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(created.id, after="msg_nothing")


def test_another_users_conversation_is_not_found(client, sdk, bob_key):
    created = client.conversations.create(metadata={"owner": "alice"})
    bob = sdk(bob_key)

    with pytest.raises(openai.NotFoundError):
        bob.conversations.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.conversations.update(created.id, metadata={"owner": "bob"})
    with pytest.raises(openai.NotFoundError):
        bob.conversations.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.conversations.items.list(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="fake-model", input="Hi", conversation=created.id)
    assert client.conversations.retrieve(created.id).metadata == {"owner": "alice"}


def test_metadata_over_openais_limits_is_refused(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.conversations.create(metadata={"k": "v" * 513})

    assert raised.value.body["param"] == "metadata.k"
    assert not Conversation.objects.exists()


def test_items_added_to_a_conversation_come_after_its_branch(fake_openai, client):
    created = client.conversations.create(items=[{"role": "user", "content": "My name is Ann."}])

    added = client.conversations.items.create(
        created.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Noted."},
            {"type": "message", "role": "user", "content": "I live in Porto."},
        ],
    )

    assert [item.content[0].text for item in added.data] == ["Noted.", "I live in Porto."]
    assert (added.first_id, added.last_id, added.has_more) == (
        added.data[0].id,
        added.data[1].id,
        False,
    )
    every = list(client.conversations.items.list(created.id, order="asc"))
    assert [item.content[0].text for item in every] == [
        "My name is Ann.",
        "Noted.",
        "I live in Porto.",
    ]
    fake_openai.reply("Ann from Porto.")
    client.responses.create(model="fake-model", input="Who am I?", conversation=created.id)
    assert [m["content"] for m in fake_openai.model_requests()[-1].body["messages"]] == [
        "My name is Ann.",
        "Noted.",
        "I live in Porto.",
        "Who am I?",
    ]


def test_items_are_not_added_to_another_users_conversation(client, sdk, bob_key):
    created = client.conversations.create(items=[{"role": "user", "content": "Mine."}])

    with pytest.raises(openai.NotFoundError):
        sdk(bob_key).conversations.items.create(
            created.id, items=[{"type": "message", "role": "user", "content": "Ours?"}]
        )
    assert Message.objects.count() == 1

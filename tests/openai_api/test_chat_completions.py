import json

from conversations.models import Conversation, Message

from .conftest import branch


def conversation_of(completion) -> Conversation:
    return Conversation.objects.get(id=completion.model_extra["conversation_id"])


def test_a_completion_is_answered_whole_and_stored_as_a_conversation(fake_openai, client, alice):
    fake_openai.reply("Paris is the capital.", usage=(12, 5, 0))

    completion = client.chat.completions.create(
        model="fake-model",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        temperature=0.2,  # accepted and ignored, like other parameters we do not use
        user="someone",
    )

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Paris is the capital."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 12
    assert completion.usage.total_tokens == 17
    conversation = conversation_of(completion)
    assert conversation.owner == alice
    assert conversation.title == "What is the capital of France?"
    assert conversation.system_prompt == "Answer briefly."
    assert branch(conversation) == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital."),
    ]
    assert completion.id == f"chatcmpl-{conversation.current_leaf_id}"
    sent = fake_openai.model_requests()[-1].body
    assert sent["model"] == "fake-model"
    assert sent["messages"][0] == {"role": "system", "content": "Answer briefly."}


def test_a_streamed_completion_sends_chunks_then_usage(fake_openai, client):
    fake_openai.reply("One two three", reasoning="Counting", usage=(4, 3, 0))

    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "Count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One two three"
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in chunks
        if c.choices
    )
    assert reasoning == "Counting"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 4
    assert chunks[-1].usage.completion_tokens == 3
    conversation = Conversation.objects.get(id=chunks[0].model_extra["conversation_id"])
    assert branch(conversation)[-1] == ("assistant", "One two three")


def test_a_stream_without_include_usage_ends_with_the_finish(fake_openai, client):
    chunks = list(
        client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    )

    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)


def test_metadata_conversation_id_continues_the_conversation(fake_openai, client):
    fake_openai.reply("Hello Ann.")
    first = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "I am Ann."}]
    )
    conversation = conversation_of(first)
    fake_openai.reply("You are Ann.")

    second = client.chat.completions.create(
        model="fake-model",
        messages=[
            {"role": "user", "content": "I am Ann."},
            {"role": "assistant", "content": "Hello Ann."},
            {"role": "user", "content": "Who am I?"},
        ],
        metadata={"conversation_id": str(conversation.id)},
    )

    assert second.choices[0].message.content == "You are Ann."
    assert conversation_of(second).id == conversation.id
    assert branch(conversation) == [
        ("user", "I am Ann."),
        ("assistant", "Hello Ann."),
        ("user", "Who am I?"),
        ("assistant", "You are Ann."),
    ]
    # Nothing stored twice, and the model read the whole path.
    assert Message.objects.filter(conversation=conversation).count() == 4
    assert [m["content"] for m in fake_openai.model_requests()[-1].body["messages"]] == [
        "I am Ann.",
        "Hello Ann.",
        "Who am I?",
    ]


def test_a_request_that_departs_from_the_stored_path_branches_there(fake_openai, client):
    fake_openai.reply("Blue.")
    first = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Name a colour."}]
    )
    conversation = conversation_of(first)
    fake_openai.reply("Ten.")
    client.chat.completions.create(
        model="fake-model",
        messages=[
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Name a number."},
        ],
        metadata={"conversation_id": str(conversation.id)},
    )
    fake_openai.reply("Seven.")

    edited = client.chat.completions.create(
        model="fake-model",
        messages=[
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Name a prime."},
        ],
        metadata={"conversation_id": str(conversation.id)},
    )

    assert edited.choices[0].message.content == "Seven."
    assert branch(conversation) == [
        ("user", "Name a colour."),
        ("assistant", "Blue."),
        ("user", "Name a prime."),
        ("assistant", "Seven."),
    ]
    # The old branch stays beside the new one, as an edit leaves it; the shared start
    # is stored once.
    blue = Message.objects.get(conversation=conversation, role="assistant", content__text="Blue.")
    asked = Message.objects.filter(parent=blue).order_by("created_at")
    assert [m.content.get().text for m in asked] == ["Name a number.", "Name a prime."]
    assert Message.objects.filter(conversation=conversation).count() == 6


def test_a_conversation_made_in_the_api_continues_in_the_rest_api(fake_openai, client, api):
    first = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Hi there"}]
    )
    conversation_id = first.model_extra["conversation_id"]

    listed = api.get("/api/conversations/").json()["results"]
    detail = api.get(f"/api/conversations/{conversation_id}/").json()

    assert [c["id"] for c in listed] == [conversation_id]
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]


def test_store_false_keeps_nothing(fake_openai, client):
    fake_openai.reply("Not kept.")
    completion = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Secret"}], store=False
    )
    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "Secret too"}],
        store=False,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert completion.choices[0].message.content == "Not kept."
    assert "conversation_id" not in completion.model_extra
    assert text == "Hello from the fake upstream."
    assert not Conversation.objects.exists()


def test_tool_calls_are_passed_through_and_their_outputs_continue(fake_openai, client):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    fake_openai.reply(tool_calls=[("call_1", "get_weather", '{"city": "Oslo"}')])
    question = {"role": "user", "content": "Weather in Oslo?"}

    asked = client.chat.completions.create(model="fake-model", messages=[question], tools=tools)

    assert asked.choices[0].finish_reason == "tool_calls"
    call = asked.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_1",
        "get_weather",
        {"city": "Oslo"},
    )
    assert fake_openai.model_requests()[-1].body["tools"][0]["function"]["name"] == "get_weather"
    fake_openai.reply("It is sunny in Oslo.")

    answered = client.chat.completions.create(
        model="fake-model",
        tools=tools,
        messages=[
            question,
            asked.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
        ],
        metadata={"conversation_id": asked.model_extra["conversation_id"]},
    )

    assert answered.choices[0].message.content == "It is sunny in Oslo."
    sent = fake_openai.model_requests()[-1].body["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == "call_1"
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}
    conversation = conversation_of(answered)
    assert [role for role, _ in branch(conversation)] == ["user", "assistant", "tool", "assistant"]


def test_a_welcome_message_is_not_expected_back_from_the_client(fake_openai, client, settings):
    settings.CHAT_WELCOME_MESSAGE = "Welcome! Ask me anything."
    fake_openai.reply("Hi.")
    first = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Hello"}]
    )
    conversation = conversation_of(first)

    client.chat.completions.create(
        model="fake-model",
        messages=[
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "And again"},
        ],
        metadata={"conversation_id": str(conversation.id)},
    )

    assert [role for role, _ in branch(conversation)] == [
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert Message.objects.filter(conversation=conversation).count() == 5

import openai
import pytest

from conversations.models import Conversation, Message

from .conftest import branch

WEATHER_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": False,
    }
]


def reply_of(response) -> Message:
    return Message.objects.get(id=response.id.removeprefix("resp_"))


def test_a_response_is_answered_whole_and_stored_as_a_conversation(fake_openai, client, alice):
    fake_openai.reply("Paris is the capital.", usage=(12, 5, 0))

    response = client.responses.create(
        model="fake-model",
        instructions="Answer briefly.",
        input="What is the capital of France?",
        temperature=0.2,  # accepted and ignored
    )

    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "Paris is the capital."
    assert response.usage.input_tokens == 12
    assert response.usage.total_tokens == 17
    reply = reply_of(response)
    conversation = reply.conversation
    assert response.conversation.id == f"conv_{conversation.id}"
    assert conversation.owner == alice
    assert conversation.title == "What is the capital of France?"
    assert conversation.system_prompt == "Answer briefly."
    assert branch(conversation) == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital."),
    ]
    sent = fake_openai.model_requests()[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "Answer briefly."}


def test_the_stream_helper_gets_the_final_response(fake_openai, client):
    fake_openai.reply("One two three", reasoning="Counting")

    with client.responses.stream(model="fake-model", input="Count") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()

    assert "".join(deltas) == "One two three"
    assert final.status == "completed"
    assert final.output_text == "One two three"
    assert reply_of(final).status == "completed"


def test_a_created_stream_sends_the_documented_events_numbered_from_zero(fake_openai, client):
    # Paced further apart than deltas are gathered into one event.
    fake_openai.reply(["Hel", "lo"], pace=0.3)

    events = list(client.responses.create(model="fake-model", input="Hi", stream=True))

    assert [event.sequence_number for event in events] == list(range(len(events)))
    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0].response.status == "in_progress"
    assert events[-1].response.output_text == "Hello"
    assert events[-1].response.id == events[0].response.id


def test_conversation_appends_to_its_active_path(fake_openai, client):
    fake_openai.reply("Hello Ann.")
    first = client.responses.create(model="fake-model", input="I am Ann.")
    conversation = reply_of(first).conversation
    fake_openai.reply("You are Ann.")

    second = client.responses.create(
        model="fake-model", input="Who am I?", conversation=first.conversation.id
    )

    assert second.output_text == "You are Ann."
    assert branch(conversation) == [
        ("user", "I am Ann."),
        ("assistant", "Hello Ann."),
        ("user", "Who am I?"),
        ("assistant", "You are Ann."),
    ]
    assert [m["content"] for m in fake_openai.model_requests()[-1].body["messages"]] == [
        "I am Ann.",
        "Hello Ann.",
        "Who am I?",
    ]


def test_previous_response_id_continues_and_branches_when_not_the_leaf(fake_openai, client):
    fake_openai.reply("Blue.")
    first = client.responses.create(model="fake-model", input="Name a colour.")
    fake_openai.reply("Ten.")
    second = client.responses.create(
        model="fake-model", input="Name a number.", previous_response_id=first.id
    )
    conversation = reply_of(first).conversation
    assert branch(conversation)[-2:] == [("user", "Name a number."), ("assistant", "Ten.")]
    fake_openai.reply("Seven.")

    third = client.responses.create(
        model="fake-model", input=[{"role": "user", "content": "Name a prime."}],
        previous_response_id=first.id,
    )  # fmt: skip

    assert third.output_text == "Seven."
    assert reply_of(third).conversation == conversation
    assert branch(conversation) == [
        ("user", "Name a colour."),
        ("assistant", "Blue."),
        ("user", "Name a prime."),
        ("assistant", "Seven."),
    ]
    # The first continuation stays beside the new one, as after an edit.
    asked = Message.objects.filter(parent=reply_of(first)).order_by("created_at")
    assert [m.content.get().text for m in asked] == ["Name a number.", "Name a prime."]
    assert reply_of(second).status == "completed"


def test_a_response_names_the_response_it_continued_from(fake_openai, client):
    first = client.responses.create(model="fake-model", input="Name a colour.")
    second = client.responses.create(
        model="fake-model", input="Another.", previous_response_id=first.id
    )
    with client.responses.stream(
        model="fake-model", input="A third.", previous_response_id=first.id.removeprefix("resp_")
    ) as stream:
        created = next(iter(stream))
        streamed = stream.get_final_response()
    appended = client.responses.create(
        model="fake-model", input="And then?", conversation=first.conversation.id
    )

    assert first.previous_response_id is None
    assert client.responses.retrieve(first.id).previous_response_id is None
    assert second.previous_response_id == first.id
    assert client.responses.retrieve(second.id).previous_response_id == first.id
    assert created.response.previous_response_id == first.id
    assert streamed.previous_response_id == first.id
    # `conversation` appends to the branch the stream made: it continues the streamed reply.
    assert appended.previous_response_id == streamed.id
    assert client.responses.retrieve(appended.id).previous_response_id == streamed.id


def test_conversation_and_previous_response_id_together_are_refused(fake_openai, client):
    first = client.responses.create(model="fake-model", input="Hi")

    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(
            model="fake-model",
            input="Again",
            conversation=first.conversation.id,
            previous_response_id=first.id,
        )

    assert raised.value.body["param"] == "previous_response_id"
    assert Message.objects.count() == 2


def test_a_stored_response_can_be_retrieved(fake_openai, client):
    fake_openai.reply("Kept.")
    created = client.responses.create(model="fake-model", input="Keep this")

    retrieved = client.responses.retrieve(created.id)

    assert retrieved.id == created.id
    assert retrieved.status == "completed"
    assert retrieved.output_text == "Kept."


def test_a_deleted_response_is_gone_and_its_input_stays(fake_openai, client, sdk, bob_key):
    created = client.responses.create(model="fake-model", input="Forget the answer")

    with pytest.raises(openai.NotFoundError):
        sdk(bob_key).responses.delete(created.id)
    client.responses.delete(created.id)

    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    assert list(Message.objects.values_list("role", flat=True)) == ["user"]


def test_another_users_response_is_not_found(fake_openai, client, sdk, bob_key):
    created = client.responses.create(model="fake-model", input="Mine")
    bob = sdk(bob_key)

    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.cancel(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="fake-model", input="Hi", previous_response_id=created.id)
    assert reply_of(created).status == "completed"


def until_the_first_delta(stream) -> list:
    """The stream's events up to its first text delta; the rest stays in the stream."""
    events = []
    for event in stream:
        events.append(event)
        if event.type == "response.output_text.delta":
            break
    return events


def test_a_response_deleted_while_it_streams_ends_with_an_error_event(fake_openai, client):
    fake_openai.reply(text=[f"t{number} " for number in range(200)], pace=0.02)

    stream = client.responses.create(model="fake-model", input="Talk slowly", stream=True)
    events = until_the_first_delta(stream)
    deleted = client.responses.delete(events[0].response.id)
    events += list(stream)

    assert deleted is None  # the SDK answers a delete with nothing
    assert events[-1].type == "error"
    assert events[-1].code == "reply_deleted"
    assert "deleted" in events[-1].message
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert not Message.objects.filter(role="assistant").exists()


def test_a_running_response_can_be_cancelled(fake_openai, client):
    fake_openai.reply(text=[f"t{number} " for number in range(200)], pace=0.05)

    stream = client.responses.create(model="fake-model", input="Count slowly", stream=True)
    events = until_the_first_delta(stream)
    cancelled = client.responses.cancel(events[0].response.id)
    events += list(stream)

    assert cancelled.status == "cancelled"
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.status == "cancelled"
    reply = reply_of(cancelled)
    assert reply.status == "cancelled"
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert streamed == "".join(item.text for item in reply.content.all())
    assert client.responses.retrieve(cancelled.id).status == "cancelled"


def test_store_false_keeps_nothing(fake_openai, client):
    fake_openai.reply("Not kept.")
    whole = client.responses.create(model="fake-model", input="Secret", store=False)
    streamed = list(
        client.responses.create(model="fake-model", input="Secret too", store=False, stream=True)
    )

    assert whole.output_text == "Not kept."
    assert whole.conversation is None
    assert streamed[-1].type == "response.completed"
    assert streamed[-1].response.output_text == "Hello from the fake upstream."
    assert not Conversation.objects.exists()
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(whole.id)


def test_a_function_call_is_output_and_its_output_continues(fake_openai, client):
    fake_openai.reply(tool_calls=[("call_1", "get_weather", '{"city": "Oslo"}')])

    asked = client.responses.create(
        model="fake-model", input="Weather in Oslo?", tools=WEATHER_TOOLS
    )

    [call] = [item for item in asked.output if item.type == "function_call"]
    assert (call.call_id, call.name) == ("call_1", "get_weather")
    assert call.arguments == '{"city": "Oslo"}'
    assert fake_openai.model_requests()[-1].body["tools"][0]["function"]["name"] == "get_weather"
    fake_openai.reply("It is sunny in Oslo.")

    answered = client.responses.create(
        model="fake-model",
        tools=WEATHER_TOOLS,
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "sunny, 21 C"}],
    )

    assert answered.output_text == "It is sunny in Oslo."
    sent = fake_openai.model_requests()[-1].body["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}


def test_a_reply_cut_short_ends_the_stream_with_response_incomplete(fake_openai, client):
    fake_openai.reply("Half of it and", cut_after=2)

    events = list(client.responses.create(model="fake-model", input="Hi", stream=True))

    assert events[-1].type == "response.incomplete"
    assert events[-1].response.status == "incomplete"
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert streamed.startswith("Half")
    assert streamed == events[-1].response.output_text
    assert streamed == "".join(i.text for i in reply_of(events[-1].response).content.all())


def test_an_upstream_failure_is_an_error_answer_or_a_failed_response(fake_openai, client):
    fake_openai.error(500, "The upstream broke")
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="fake-model", input="Hi")
    fake_openai.error(500, "The upstream broke again")

    events = list(client.responses.create(model="fake-model", input="Hi", stream=True))

    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_error"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed"
    assert events[-1].response.error.code == "upstream_error"


def test_the_stream_helper_yields_a_client_tools_call_piecewise(fake_openai, client):
    fake_openai.reply("Let me look.", tool_calls=[("call_1", "get_weather", '{"city": "Oslo"}')])

    with client.responses.stream(
        model="fake-model", input="Weather?", tools=WEATHER_TOOLS
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()

    assert [event.sequence_number for event in events] == list(range(len(events)))
    calls = [event for event in events if event.type.startswith("response.function_call")]
    added, done = (
        next(e for e in events if e.type == name and e.item.type == "function_call")
        for name in ("response.output_item.added", "response.output_item.done")
    )
    assert [event.type for event in calls] == [
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
    ]
    assert events.index(added) < events.index(calls[0]) < events.index(done)
    assert (added.item.call_id, added.item.name, added.item.arguments) == (
        "call_1",
        "get_weather",
        "",
    )
    assert calls[0].snapshot == '{"city": "Oslo"}'
    assert (calls[1].name, calls[1].arguments) == ("get_weather", '{"city": "Oslo"}')
    assert done.item.arguments == '{"city": "Oslo"}'
    assert final.output_text == "Let me look."
    [call] = [item for item in final.output if item.type == "function_call"]
    assert (call.call_id, call.name, call.arguments) == (
        "call_1",
        "get_weather",
        '{"city": "Oslo"}',
    )
    assert call.id == added.item.id

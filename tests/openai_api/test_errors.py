import httpx
import openai
import pytest

from conversations.models import Message


def test_a_bad_key_is_a_401_in_openais_shape(fake_openai, sdk):
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk("sk-chat-not-a-key").models.list()

    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    assert caught.value.body["type"] == "invalid_request_error"


def test_no_key_is_a_401(server_url, alice):
    response = httpx.get(f"{server_url}/v1/models")

    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_the_rest_api_token_works_as_a_key(fake_openai, sdk, alice):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=alice)

    completion = sdk(token.key).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Hi"}]
    )

    assert completion.choices[0].message.content == "Hello from the fake upstream."


def test_another_users_conversation_is_a_404(fake_openai, client, sdk, bob_key):
    mine = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Mine"}]
    )

    with pytest.raises(openai.NotFoundError) as caught:
        sdk(bob_key).chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "Mine"}, {"role": "user", "content": "Now?"}],
            metadata={"conversation_id": mine.model_extra["conversation_id"]},
        )

    assert caught.value.body["type"] == "invalid_request_error"
    assert len(fake_openai.model_requests()) == 1


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "wizard", "content": "Hi"}], "messages[0].role"),
        ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}], "messages"),
        ([{"role": "user", "content": [{"type": "input_audio"}]}], "messages[0].content[0]"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(fake_openai, client, messages, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="fake-model", messages=messages)

    assert caught.value.status_code == 400
    assert caught.value.body["type"] == "invalid_request_error"
    assert caught.value.body["param"] == param
    assert caught.value.body["message"]
    assert not fake_openai.model_requests()


def test_a_stream_that_cannot_start_is_an_error_answer_not_a_chunk(fake_openai, client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fake-model", messages=[], stream=True)


def test_an_upstream_failure_is_a_5xx_in_openais_shape(fake_openai, client):
    fake_openai.error(500, "The upstream broke")

    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "Hi"}]
        )

    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "server_error"
    assert caught.value.body["code"] == "upstream_error"


def test_an_unknown_route_is_a_404_in_openais_shape(server_url, alice_key):
    response = httpx.post(
        f"{server_url}/v1/no/such/thing", headers={"Authorization": f"Bearer {alice_key}"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_too_many_replies_is_a_429_in_openais_shape(fake_openai, client, settings):
    settings.CHAT_GENERATION_RATE = "1/min"
    client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "1"}])

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "2"}]
        )

    assert caught.value.body["type"] == "rate_limit_error"
    assert len(fake_openai.model_requests()) == 1


def test_a_turn_refused_as_busy_is_a_409_in_openais_shape(fake_openai, client, settings):
    settings.CHAT_QUEUE_LIMIT = 0  # no reply may wait behind a running one
    fake_openai.reply(text=[f"t{number} " for number in range(200)], pace=0.05)
    stream = client.responses.create(model="fake-model", input="Count slowly", stream=True)
    created = next(iter(stream))
    running = created.response
    stored = Message.objects.count()

    with pytest.raises(openai.ConflictError) as appended:
        client.responses.create(
            model="fake-model", input="And now?", conversation=running.conversation.id
        )
    with pytest.raises(openai.ConflictError) as continued:
        client.responses.create(
            model="fake-model", input="And then?", previous_response_id=running.id
        )
    with pytest.raises(openai.ConflictError) as completed:
        client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "Count slowly"}],
            metadata={"conversation_id": running.conversation.id.removeprefix("conv_")},
        )
    assert Message.objects.count() == stored
    client.responses.cancel(running.id)
    list(stream)

    for refused in (appended, continued, completed):
        assert refused.value.status_code == 409
        assert refused.value.body["type"] == "invalid_request_error"
        assert refused.value.body["code"] == "generation_busy"
        assert refused.value.body["message"]
    assert len(fake_openai.model_requests()) == 1


def test_a_model_the_picker_does_not_offer_is_a_400_and_nothing_is_stored(fake_openai, client):
    fake_openai.models = ["fake-model", "big-model"]

    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model="not-offered", messages=[{"role": "user", "content": "Hi"}]
        )
    with pytest.raises(openai.BadRequestError) as response:
        client.responses.create(model="not-offered", input="Hi")
    answered = client.responses.create(model="big-model", input="Hi")

    for refused in (chat, response):
        assert refused.value.body["code"] == "invalid_model"
        assert refused.value.body["param"] == "model"
        assert "big-model" in refused.value.body["message"]
    assert answered.model == "big-model"
    assert [request.body["model"] for request in fake_openai.model_requests()] == ["big-model"]
    assert Message.objects.count() == 2

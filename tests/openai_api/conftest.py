"""The real `openai` SDK against the live ASGI server; its provider talks to the fake
upstream (`fake_openai`) or runs the demo model."""

import openai
import pytest
from django.core.cache import cache

from conversations import selectors, services
from conversations.models import Conversation

# Content items whose text `branch` shows.
TEXT = ("input_text", "output_text")


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The model list and throttle counters live in the cache: every test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice_key(alice):
    return services.api_key_create(owner=alice, name="tests")[1]


@pytest.fixture
def bob_key(bob):
    return services.api_key_create(owner=bob, name="bob's")[1]


@pytest.fixture
def sdk(server_url):
    """`sdk(key)`: an OpenAI client of the live server, as an integrator makes one."""

    def make(key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{server_url}/v1", api_key=key, max_retries=0, timeout=30)

    return make


@pytest.fixture
def client(sdk, alice_key):
    return sdk(alice_key)


# The browser test of the API keys page opens pages as the chat's browser tests do.
from tests.browser.conftest import browser, csp_violations, login, page_errors  # noqa: E402, F401


def branch(conversation: Conversation) -> list[tuple[str, str]]:
    """(role, text) of the conversation's active path."""
    conversation.refresh_from_db()
    return [
        (message.role, " ".join(item.text for item in message.content.all() if item.type in TEXT))
        for message in selectors.conversation_branch(conversation=conversation)
    ]

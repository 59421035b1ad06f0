"""A draft is never lost: refused sends keep their text in the composer, with an error that
stays until dismissed or the next send (issue 14, item 2)."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from conversations.models import Conversation, Message
from tests.browser.conftest import HOME
from tests.browser.test_chat_ui import REPLY, send


@pytest.fixture(autouse=True)
def visible_streaming(settings):
    settings.DEMO_STREAM_DELAY = 0.005
    yield
    cache.clear()  # the throttle's counters


def test_a_message_over_the_limit_stays_in_the_composer_and_creates_nothing(
    login, alice, settings, server_url
):
    settings.CHAT_MAX_MESSAGE_CHARS = 50  # the page reads the limit from the server
    page = login(alice, "alice-password")
    page.clock.install()
    page.reload()
    draft = "Too long. " * 6
    send(page, draft)
    notice = page.locator("#notice")
    expect(notice).to_contain_text("the limit is 50")
    expect(page.locator("#composer-input")).to_have_value(draft)
    page.clock.run_for(60_000)
    expect(notice).to_be_visible()  # until dismissed or the next send
    assert page.url == f"{server_url}/"
    assert not Conversation.objects.exists()

    page.get_by_role("button", name="Dismiss the error").click()
    expect(notice).to_be_hidden()
    page.fill("#composer-input", "Short now")
    page.keyboard.press("Enter")
    expect(page.locator(REPLY)).to_have_count(1)
    expect(page.locator("#composer-input")).to_have_value("")
    assert Conversation.objects.count() == 1


def test_a_first_message_the_server_refuses_leaves_no_conversation(login, alice, settings):
    settings.CHAT_GENERATION_RATE = "1/min"
    page = login(alice, "alice-password")
    send(page, "The one reply allowed")
    expect(page.locator(REPLY)).to_have_count(1)
    first_url = page.url

    page.get_by_role("link", name="New chat").click()
    page.wait_for_url(HOME)
    send(page, "A second conversation, refused")
    expect(page.locator("#notice")).to_contain_text("Too many replies")
    expect(page.locator("#composer-input")).to_have_value("A second conversation, refused")
    expect(page.locator("#send-button")).to_be_enabled()
    assert Conversation.objects.count() == 1
    assert page.locator("#conversation-list li").count() == 1

    # Refused on the socket of an open conversation: the draft stays as well.
    page.goto(first_url)
    send(page, "A second question, refused")
    expect(page.locator("#notice")).to_contain_text("Too many replies")
    expect(page.locator("#composer-input")).to_have_value("A second question, refused")
    expect(page.locator("article.user")).to_have_count(1)
    assert Message.objects.filter(role="user").count() == 1

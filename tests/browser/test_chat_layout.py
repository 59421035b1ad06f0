"""The chat page at phone size: nothing wider than the screen, the sidebar a drawer
(issue 14, item 1)."""

import re

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation
from tests.factories import make_conversation, make_message

LONG_TITLE = "A conversation title far longer than thirty-five characters, about trips"


def conversation_with_reply(owner, title):
    conversation = make_conversation(owner, title=title)
    question = make_message(conversation, text="Where should I go in June?")
    answer = make_message(conversation, question, role="assistant", text="Lisbon, **surely**.")
    Conversation.objects.filter(id=conversation.id).update(current_leaf=answer)
    return conversation


def assert_within_screen(page, *selectors):
    # The screen's width: on a phone a wider page makes the browser zoom out, so the
    # window's innerWidth grows with the page.
    width = page.viewport_size["width"]
    assert page.evaluate("innerWidth") <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in selectors:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_nothing_is_wider_than_the_screen(login, alice, server_url, scheme, tmp_path):
    other = conversation_with_reply(alice, "Short one")
    conversation = conversation_with_reply(alice, LONG_TITLE)
    page = login(alice, "alice-password", color_scheme=scheme, phone=True)
    page.goto(f"{server_url}/c/{conversation.id}/")
    expect(page.locator("article.assistant strong")).to_have_text("surely")
    page.fill("#composer-input", "A draft")
    assert_within_screen(
        page, "#send-button", "#rename-button", "#archive-button", "#delete-button", "article"
    )
    sidebar = page.locator("#sidebar")
    expect(sidebar).to_be_hidden()

    page.get_by_role("button", name="Conversations").click()
    expect(sidebar).to_be_visible()
    expect(sidebar).to_have_css("transform", "none")  # slid in
    expect(page.get_by_role("button", name="Conversations")).to_have_attribute(
        "aria-expanded", "true"
    )
    assert_within_screen(page, "#sidebar")
    page.screenshot(path=tmp_path / f"phone-drawer-{scheme}.png")
    page.get_by_role("link", name="Short one").click()
    page.wait_for_url(re.compile(f"/c/{other.id}/$"))
    expect(sidebar).to_be_hidden()

    page.locator("article.assistant").get_by_role("button", name="Share").click()
    expect(page.locator("#share-dialog")).to_be_visible()
    assert_within_screen(page, "#share-dialog", "#share-create")
    page.screenshot(path=tmp_path / f"phone-share-{scheme}.png")


def test_on_a_desktop_the_sidebar_stays_and_has_no_menu_button(login, alice, server_url):
    conversation = conversation_with_reply(alice, LONG_TITLE)
    page = login(alice, "alice-password")
    page.goto(f"{server_url}/c/{conversation.id}/")
    expect(page.locator("#sidebar")).to_be_visible()
    expect(page.get_by_role("button", name="Conversations")).to_be_hidden()
    assert_within_screen(page, "#send-button", "#delete-button", "#sidebar")

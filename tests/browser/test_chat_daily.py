"""The chat page's small daily-use habits, as people coming from ChatGPT or Open WebUI
expect them (issue 14, item 8)."""

import pytest
from playwright.sync_api import expect

from conversations.models import Feedback, Message
from tests.browser.test_chat_layout import assert_within_screen
from tests.factories import make_branch, make_conversation

REPLY = 'article.assistant[data-status="completed"]'
SIZES_AND_SCHEMES = [
    pytest.param(phone, scheme, id=f"{'phone' if phone else 'desktop'}-{scheme}")
    for phone in (False, True)
    for scheme in ("light", "dark")
]


@pytest.fixture(autouse=True)
def visible_streaming(settings):
    settings.DEMO_STREAM_DELAY = 0.005


def send(page, text):
    page.fill("#composer-input", text)
    page.keyboard.press("Enter")


def long_conversation(owner, length=40):
    conversation = make_conversation(owner, title="A long talk")
    make_branch(conversation, length)
    return conversation


def assert_readable(page, selector):
    """The element's text does not melt into its background (light or dark)."""
    color, background = page.locator(selector).evaluate(
        "node => [getComputedStyle(node).color, getComputedStyle(node).backgroundColor]"
    )
    assert color != background, (selector, color)


def test_the_tab_title_follows_the_conversation_title(login, alice):
    page = login(alice, "alice-password")
    expect(page).to_have_title("Chat")
    send(page, "Plan a trip to Lisbon")
    expect(page).to_have_title("Plan a trip to Lisbon · Chat")
    expect(page.locator(REPLY)).to_have_count(1)

    page.once("dialog", lambda dialog: dialog.accept("Summer in Lisbon"))
    page.get_by_role("button", name="Rename").click()
    expect(page).to_have_title("Summer in Lisbon · Chat")
    page.reload()
    expect(page).to_have_title("Summer in Lisbon · Chat")


@pytest.mark.parametrize("phone, scheme", SIZES_AND_SCHEMES)
def test_stop_is_in_the_composer_and_escape_stops_too(
    login, alice, settings, phone, scheme, tmp_path
):
    settings.DEMO_STREAM_DELAY = 0.1
    page = login(alice, "alice-password", color_scheme=scheme, phone=phone)
    button = page.locator("#send-button")
    send(page, "Tell me a long story")
    running = page.locator('article.assistant[data-status="in_progress"]')
    expect(running.locator(".output-text")).to_contain_text("You said")
    expect(button).to_have_text("Stop")
    expect(button).to_be_enabled()
    assert_within_screen(page, "#send-button")
    assert_readable(page, "#send-button")
    page.screenshot(path=tmp_path / "composer-stop.png")
    button.click()
    expect(page.locator("article.assistant").last).to_have_attribute("data-status", "cancelled")
    expect(button).to_have_text("Send")

    send(page, "And another long one")
    expect(running.locator(".output-text")).to_contain_text("You said")
    page.keyboard.press("Escape")
    expect(page.locator("article.assistant").last).to_have_attribute("data-status", "cancelled")
    statuses = Message.objects.filter(role="assistant").values_list("status", flat=True)
    assert list(statuses) == ["cancelled", "cancelled"]


def test_typing_while_a_reply_streams_turns_stop_back_into_send(login, alice, settings):
    settings.DEMO_STREAM_DELAY = 0.1
    page = login(alice, "alice-password")
    send(page, "Tell me a long story")
    expect(page.locator("#send-button")).to_have_text("Stop")
    page.fill("#composer-input", "A follow-up, queued behind it")
    expect(page.locator("#send-button")).to_have_text("Send")


@pytest.mark.parametrize("phone, scheme", SIZES_AND_SCHEMES)
def test_a_scroll_to_bottom_button_appears_when_scrolled_up(
    login, alice, server_url, phone, scheme, tmp_path
):
    conversation = long_conversation(alice)
    page = login(alice, "alice-password", color_scheme=scheme, phone=phone)
    page.goto(f"{server_url}/c/{conversation.id}/")
    messages = page.locator("article.message")
    expect(messages).to_have_count(40)
    expect(messages.last).to_be_in_viewport()
    button = page.get_by_role("button", name="Scroll to the bottom")
    expect(button).to_be_hidden()

    page.locator("#messages").evaluate("box => { box.scrollTop = box.scrollHeight / 3; }")
    expect(button).to_be_visible()
    expect(messages.last).not_to_be_in_viewport()
    assert_within_screen(page, "#scroll-bottom")
    assert_readable(page, "#scroll-bottom")
    page.screenshot(path=tmp_path / "scroll-button.png")
    button.click()
    expect(messages.last).to_be_in_viewport()
    expect(button).to_be_hidden()


def test_the_bad_feedback_form_comes_into_view_and_confirms(login, alice, server_url):
    conversation = long_conversation(alice)
    page = login(alice, "alice-password")
    page.goto(f"{server_url}/c/{conversation.id}/")
    reply = page.locator("article.assistant").last
    expect(reply).to_be_in_viewport()
    reply.get_by_role("button", name="Bad reply").click()
    form = page.locator(".feedback-form")
    expect(form).to_be_in_viewport(ratio=1)

    page.get_by_label("What went wrong? (optional)").fill("Wrong number")
    page.get_by_role("button", name="Send feedback").click()
    expect(reply.get_by_role("status")).to_have_text("Thanks, your feedback was sent.")
    expect(form).to_have_count(0)
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == ("bad", "Wrong number")


def test_copy_message_says_copied(login, alice):
    page = login(alice, "alice-password")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    send(page, "Copy me")
    reply = page.locator(REPLY)
    copy = reply.get_by_role("button", name="Copy message")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert "Copy me" in page.evaluate("navigator.clipboard.readText()")

"""The chat page's small daily-use habits, as people coming from ChatGPT or Open WebUI
expect them (issue 14, item 8)."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations import services
from conversations.models import Feedback, Message, Share
from tests.browser.test_chat_layout import assert_within_screen, conversation_with_reply
from tests.browser.test_chat_ui import REPLY, send, tiny_png
from tests.factories import make_branch, make_conversation

SIZES_AND_SCHEMES = [
    pytest.param(phone, scheme, id=f"{'phone' if phone else 'desktop'}-{scheme}")
    for phone in (False, True)
    for scheme in ("light", "dark")
]


@pytest.fixture(autouse=True)
def visible_streaming(settings):
    settings.DEMO_STREAM_DELAY = 0.005


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


def test_a_question_whose_reply_was_deleted_can_be_answered_again(login, alice):
    page = login(alice, "alice-password")
    send(page, "Answer me twice")
    expect(page.locator(REPLY)).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(REPLY).get_by_role("button", name="Delete").click()
    expect(page.locator("article.assistant")).to_have_count(0)

    page.locator("article.user").get_by_role("button", name="Regenerate").click()
    expect(page.locator(REPLY)).to_contain_text("Answer me twice", timeout=20000)
    question = Message.objects.get(role="user")
    reply = Message.objects.get(role="assistant")
    assert (reply.parent_id, reply.status) == (question.id, "completed")
    # Answered, the question offers Edit again, not Regenerate.
    expect(page.locator("article.user").get_by_role("button", name="Regenerate")).to_have_count(0)


def test_bare_urls_in_a_reply_become_safe_links(login, alice):
    page = login(alice, "alice-password")
    send(page, "Read https://example.com/docs?page=2 and javascript:alert(1) please")
    link = page.locator(REPLY).locator(".output-text a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.com/docs?page=2")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(link).to_have_text("https://example.com/docs?page=2")


DATA_TRANSFER = """([name, bytes]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, { type: "image/png" }));
  return transfer;
}"""

PASTE = """(input, transfer) => input.dispatchEvent(
  new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }),
)"""


def test_files_dropped_or_pasted_on_the_composer_are_attached(login, alice):
    page = login(alice, "alice-password")
    dropped = page.evaluate_handle(DATA_TRANSFER, ["dropped.png", list(tiny_png())])
    page.dispatch_event("#composer", "dragover", {"dataTransfer": dropped})
    page.dispatch_event("#composer", "drop", {"dataTransfer": dropped})
    expect(page.locator("#pending-attachments")).to_contain_text("dropped.png")

    pasted = page.evaluate_handle(DATA_TRANSFER, ["pasted.png", list(tiny_png())])
    page.locator("#composer-input").evaluate(PASTE, pasted)
    expect(page.locator("#pending-attachments")).to_contain_text("pasted.png")
    send(page, "Two pictures")
    expect(page.locator(REPLY)).to_have_count(1)
    expect(page.locator("article.user img.attachment-thumb")).to_have_count(2)
    question = Message.objects.get(role="user")
    assert [item.type for item in question.content.order_by("index")] == [
        "input_text",
        "input_image",
        "input_image",
    ]


def test_a_message_with_only_an_image_can_be_sent(login, alice):
    page = login(alice, "alice-password")
    page.set_input_files(
        "#attach-input", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    expect(page.locator("#pending-attachments")).to_contain_text("dot.png")
    expect(page.locator("#send-button")).to_be_enabled()
    page.locator("#send-button").click()
    expect(page.locator(REPLY)).to_have_count(1)
    expect(page.locator("article.user img.attachment-thumb")).to_be_visible()
    expect(page.locator("#pending-attachments")).to_be_empty()
    question = Message.objects.get(role="user")
    assert [item.type for item in question.content.all()] == ["input_image"]

    # And again in the conversation now open (over the websocket).
    page.set_input_files(
        "#attach-input", files=[{"name": "two.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    expect(page.locator("#pending-attachments")).to_contain_text("two.png")
    page.locator("#composer-input").press("Enter")
    expect(page.locator(REPLY)).to_have_count(2)
    expect(page.locator("#pending-attachments")).to_be_empty()
    assert Message.objects.filter(role="user").count() == 2


ANNOUNCEMENTS = """() => {
  window.announcements = [];
  new MutationObserver(() => window.announcements.push(
    document.querySelector("#live-region").textContent,
  )).observe(document.querySelector("#live-region"), {
    childList: true, characterData: true, subtree: true,
  });
}"""


def test_screen_readers_hear_a_reply_once_when_it_is_complete(login, alice, settings):
    settings.DEMO_STREAM_DELAY = 0.02
    page = login(alice, "alice-password")
    page.evaluate(ANNOUNCEMENTS)
    send(page, "Say something")
    expect(page.locator(REPLY)).to_have_count(1, timeout=20000)
    page.wait_for_function("window.announcements.length > 0")
    announcements = page.evaluate("window.announcements")
    assert len(announcements) == 1, announcements
    assert announcements[0].startswith("Assistant replied: You said: Say something")


def share(conversation):
    conversation.refresh_from_db()
    return services.share_create(conversation=conversation, user=conversation.owner)


@pytest.mark.parametrize("phone, scheme", SIZES_AND_SCHEMES)
def test_shared_links_are_listed_and_can_be_revoked(
    login, alice, bob, server_url, phone, scheme, tmp_path
):
    trip = conversation_with_reply(alice, "Trip to Lisbon")
    old = share(trip)
    kept = share(conversation_with_reply(alice, "Recipes"))
    Share.objects.filter(id=kept.id).update(view_count=3)
    services.share_revoke(share=share(trip), reason="Revoked by its owner.")
    share(conversation_with_reply(bob, "Bob's"))

    page = login(alice, "alice-password", color_scheme=scheme, phone=phone)
    if phone:
        page.get_by_role("button", name="Conversations").click()
    page.get_by_role("button", name="Shared links").click()
    dialog = page.locator("#shares-dialog")
    rows = dialog.locator("li")
    expect(rows).to_have_count(2)  # the links that still work, newest first
    expect(rows.nth(0)).to_contain_text("Recipes")
    expect(rows.nth(0)).to_contain_text("3 views")
    expect(rows.nth(0)).to_contain_text(str(timezone.now().year))
    expect(rows.nth(1)).to_contain_text("Trip to Lisbon")
    expect(rows.nth(1)).to_contain_text("0 views")
    assert_within_screen(page, "#shares-dialog", "#shares-dialog li button")
    assert_readable(page, "#shares-dialog")
    page.screenshot(path=tmp_path / "shared-links.png")

    rows.nth(1).get_by_role("button", name="Revoke").click()
    expect(rows.nth(1)).to_contain_text("Revoked")
    expect(rows.nth(1).get_by_role("button", name="Revoke")).to_have_count(0)
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert page.request.get(f"{server_url}/s/{old.token}/").status == 404
    assert page.request.get(f"{server_url}/s/{kept.token}/").status == 200
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_a_reply_shows_its_token_usage_on_hover(login, alice):
    page = login(alice, "alice-password")
    send(page, "Count my tokens please")
    reply = page.locator(REPLY)
    expect(reply).to_have_count(1)
    usage = Message.objects.get(role="assistant").usage
    assert usage["input_tokens"] and usage["output_tokens"]
    label = reply.locator(".usage")
    expect(label).to_be_hidden()
    reply.hover()
    expect(label).to_be_visible()
    expect(label).to_have_text(f"Tokens: {usage['input_tokens']} in, {usage['output_tokens']} out")
    page.reload()
    page.locator("article.assistant").hover()
    expect(page.locator("article.assistant .usage")).to_be_visible()

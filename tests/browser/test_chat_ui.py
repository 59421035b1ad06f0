"""The chat UI in Debian's Chromium against the live ASGI app (demo model, real database)."""

import base64
import re
from datetime import timedelta

import openai
import pytest
from playwright.sync_api import expect

from conversations import services
from conversations.models import ContentItem, Conversation, Feedback, Message, Share
from tests.browser.conftest import HOME, record_csp_violations
from tests.factories import make_branch, make_conversation, make_message

REPLY = 'article.assistant[data-status="completed"]'


@pytest.fixture(autouse=True)
def visible_streaming(settings):
    settings.DEMO_STREAM_DELAY = 0.005


def send(page, text):
    page.fill("#composer-input", text)
    page.keyboard.press("Enter")


def last_reply(page):
    return page.locator("article.assistant").last


def test_log_in_send_and_watch_the_reply_stream(login, alice, settings):
    settings.DEMO_STREAM_DELAY = 0.03
    page = login(alice, "alice-password")
    expect(page.locator("#send-button")).to_be_disabled()
    send(page, "Why is the sky blue?")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "in_progress")
    expect(reply.locator(".stop-button")).to_be_visible()
    expect(reply).to_have_attribute("data-status", "completed", timeout=20000)
    # The finished reply is the server's rendering: a table, highlighted code, math.
    expect(reply.locator("table")).to_be_visible()
    expect(reply.locator(".codeblock .highlight")).to_contain_text("def greet")
    expect(reply.locator("math")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}/$"))
    expect(page.locator("#conversation-title")).to_have_text("Why is the sky blue?")
    stored = Message.objects.get(role="assistant")
    assert stored.status == "completed"
    assert "Why is the sky blue?" in stored.content.get(type="output_text").text


def test_stop_keeps_the_partial_reply(login, alice, settings):
    settings.DEMO_STREAM_DELAY = 0.1
    page = login(alice, "alice-password")
    send(page, "Tell me a long story")
    reply = last_reply(page)
    expect(reply.locator(".output-text")).to_contain_text("You said")
    reply.locator(".stop-button").click()
    expect(reply).to_have_attribute("data-status", "cancelled")
    expect(reply.locator(".status-line")).to_have_text("Stopped.")
    stored = Message.objects.get(role="assistant")
    assert stored.status == "cancelled"
    assert stored.content.get(type="output_text").text.startswith("You said")


def test_feedback_toggles_and_takes_a_comment(login, alice):
    page = login(alice, "alice-password")
    send(page, "Rate me")
    reply = page.locator(REPLY)
    reply.get_by_role("button", name="Good reply").click()
    expect(reply.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "true")
    assert Feedback.objects.get().rating == "good"

    reply.get_by_role("button", name="Bad reply").click()
    page.get_by_label("What went wrong? (optional)").fill("Too chatty")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.locator(".feedback-form")).to_have_count(0)
    expect(reply.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "true")
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == ("bad", "Too chatty")

    reply.get_by_role("button", name="Bad reply").click()
    expect(reply.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "false")
    assert not Feedback.objects.exists()


def test_edit_makes_a_branch_and_the_switcher_goes_back(login, alice):
    page = login(alice, "alice-password")
    send(page, "First version")
    expect(page.locator(REPLY)).to_have_count(1)
    page.locator("article.user").get_by_role("button", name="Edit").click()
    page.get_by_label("Edit message").fill("Second version")
    page.get_by_role("button", name="Save and send").click()
    expect(last_reply(page)).to_contain_text("Second version", timeout=20000)
    expect(page.locator("article.user .branch-position")).to_have_text("2/2")

    page.get_by_role("button", name="Previous version").click()
    expect(page.locator("article.user")).to_contain_text("First version")
    expect(page.locator("article.user .branch-position")).to_have_text("1/2")
    expect(last_reply(page)).to_contain_text("First version")
    assert Message.objects.filter(role="user").count() == 2


def test_regenerate_writes_a_sibling_reply(login, alice):
    page = login(alice, "alice-password")
    send(page, "Again please")
    expect(page.locator(REPLY)).to_have_count(1)
    page.locator(REPLY).get_by_role("button", name="Regenerate").click()
    expect(page.locator("article.assistant .branch-position")).to_have_text("2/2")
    expect(page.locator(REPLY)).to_have_count(1, timeout=20000)
    assert Message.objects.filter(role="assistant").count() == 2


def test_share_opens_logged_out_and_stops_after_revoke(login, alice, browser, server_url):
    page = login(alice, "alice-password")
    send(page, "Share this answer")
    page.locator(REPLY).get_by_role("button", name="Share").click()
    page.get_by_label("Expires").select_option("7")
    page.get_by_role("button", name="Create link").click()
    link = page.locator("#share-link")
    expect(link).to_have_value(re.compile(r"/s/[\w-]{40,}/$"))
    url = link.input_value()

    stranger = browser.new_context()
    public = stranger.new_page()
    public.goto(url)
    expect(public.locator("article.assistant")).to_contain_text("Share this answer")
    expect(public.locator("body")).not_to_contain_text("alice")

    page.get_by_role("button", name="Revoke link").click()
    expect(link).to_have_value(re.compile("Revoked"))
    response = public.goto(url)
    assert response.status == 404
    expect(public.locator("h1")).to_have_text("This link does not work")
    share = Share.objects.get()
    assert share.revoked_at is not None
    assert timedelta(days=6, hours=23) < share.expires_at - share.created_at <= timedelta(days=7)
    stranger.close()


def test_delete_a_message_then_the_conversation(login, alice):
    page = login(alice, "alice-password")
    send(page, "Delete me")
    expect(page.locator(REPLY)).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(REPLY).get_by_role("button", name="Delete").click()
    expect(page.locator("article.assistant")).to_have_count(0)
    expect(page.locator("article.user")).to_have_count(1)
    assert list(Message.objects.values_list("role", flat=True)) == ["user"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#delete-button").click()
    page.wait_for_url(HOME)
    expect(page.locator("#conversation-list")).to_contain_text("No conversations yet.")
    assert not Conversation.objects.exists()


def two_tabs(login, user, password, first_message):
    """A conversation of one turn, open in two tabs of the same browser."""
    page = login(user, password)
    send(page, first_message)
    expect(page.locator(REPLY)).to_have_count(1)
    other = page.context.new_page()
    other.goto(page.url)
    expect(other.locator(REPLY)).to_have_count(1)
    return page, other


def test_an_item_deleted_through_the_openai_api_leaves_the_open_page(login, alice, server_url):
    page = login(alice, "alice-password")
    send(page, "Think aloud")
    expect(page.locator(REPLY)).to_have_count(1)
    expect(last_reply(page).locator("details.reasoning")).to_have_count(1)
    key = services.api_key_create(owner=alice, name="integration")[1]
    sdk = openai.OpenAI(base_url=f"{server_url}/v1", api_key=key, max_retries=0)
    conversation_id = f"conv_{Conversation.objects.get().id}"
    items = sdk.conversations.items.list(conversation_id, order="asc")
    [reasoning] = [item for item in items if item.type == "reasoning"]

    sdk.conversations.items.delete(reasoning.id, conversation_id=conversation_id)

    expect(last_reply(page).locator("details.reasoning")).to_have_count(0)
    expect(last_reply(page).locator(".output-text")).to_contain_text("You said: Think aloud")


def test_a_conversation_deleted_in_another_tab_sends_this_one_home(login, alice):
    page, other = two_tabs(login, alice, "alice-password", "Delete me elsewhere")

    other.once("dialog", lambda dialog: dialog.accept())
    other.locator("#delete-button").click()
    other.wait_for_url(HOME)
    page.wait_for_url(HOME)
    expect(page.locator("#conversation-list")).to_contain_text("No conversations yet.")


def test_another_user_sees_none_of_it(login, alice, bob, server_url):
    page = login(alice, "alice-password")
    send(page, "Alice's secret plan")
    expect(page.locator(REPLY)).to_have_count(1)
    conversation_url = page.url

    other = login(bob, "bob-password")
    expect(other.locator("#conversation-list")).not_to_contain_text("secret")
    response = other.goto(conversation_url)
    assert response.status == 404
    conversation = Conversation.objects.get()
    api = other.request.get(f"{server_url}/api/conversations/{conversation.id}/")
    assert api.status == 404


def test_xss_in_model_output_and_title_does_not_run(login, alice):
    page = login(alice, "alice-password")
    fired = []
    page.on("dialog", lambda dialog: (fired.append(dialog.message), dialog.dismiss()))
    payload = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'
    send(page, payload)
    expect(page.locator(REPLY)).to_have_count(1)
    page.reload()
    expect(page.locator(REPLY)).to_have_count(1)
    assert page.evaluate("window.__xss") is None
    assert fired == []
    # Shown as text everywhere: the title, the sidebar, the question and the echoed reply.
    expect(page.locator("#conversation-title")).to_contain_text("<img src=x")
    expect(page.locator("#conversation-list")).to_contain_text("<img src=x")
    expect(page.locator("article.user")).to_contain_text("<script>")
    assert page.locator(".message-body img, .message-body script").count() == 0


def test_data_urls_are_never_links(login, alice, server_url):
    conversation = make_conversation(alice, title="Data URLs")
    question = make_message(conversation, text="look")
    png = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    ContentItem.objects.create(
        message=question, index=1, type="input_image", data={"image_url": png}
    )
    answer = make_message(
        conversation, question, role="assistant", text="[open me](data:text/html,<b>hi</b>)"
    )
    citation = {"type": "url_citation", "url": "data:text/html,<b>hi</b>", "title": "cite"}
    answer.content.update(data={"annotations": [citation]})
    conversation.current_leaf = answer
    conversation.save()
    page = login(alice, "alice-password")
    page.goto(f"{server_url}/c/{conversation.id}/")
    expect(page.locator(".citations")).to_contain_text("cite")
    expect(page.locator("article.user img.attachment-thumb")).to_have_attribute("src", png)
    assert page.locator('a[href^="data:"]').count() == 0


def test_a_long_conversation_shows_its_earlier_messages_from_the_top(login, alice, server_url):
    conversation = make_conversation(alice, title="Long")
    branch = make_branch(conversation, 120)
    page = login(alice, "alice-password")
    page.goto(f"{server_url}/c/{conversation.id}/")
    messages = page.locator("article.message")
    expect(messages).to_have_count(50)
    expect(messages.last).to_contain_text("Answer 119")
    expect(messages.last.locator("strong")).to_have_text("119")  # the server's rendering

    # Scrolled to the top, the page above comes in over what the reader was looking at.
    page.locator("#messages").evaluate("box => { box.scrollTop = 0; }")
    expect(messages).to_have_count(100)
    expect(page.locator(f'[data-message-id="{branch[70].id}"]')).to_be_in_viewport()
    page.get_by_role("button", name="Show earlier messages").dispatch_event("click")
    expect(messages).to_have_count(120)
    expect(page.get_by_role("button", name="Show earlier messages")).to_have_count(0)
    shown = messages.evaluate_all("nodes => nodes.map((node) => node.dataset.messageId)")
    assert shown == [str(message.id) for message in branch]

    # Sharing offers the whole branch, loaded or not.
    page.reload()
    expect(messages).to_have_count(50)
    page.locator(REPLY).last.get_by_role("button", name="Share").click()
    expect(page.locator("#share-messages li")).to_have_count(120)
    expect(page.locator("#share-messages li").first).to_contain_text("Question 0")


def test_screenshots_light_and_dark(login, alice, tmp_path):
    for scheme in ("light", "dark"):
        page = login(alice, "alice-password", color_scheme=scheme)
        send(page, f"Show me the {scheme} theme")
        expect(page.locator(REPLY)).to_have_count(1)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(13, 17, 23)")
        page.screenshot(path=tmp_path / f"chat-{scheme}.png")


def tiny_png() -> bytes:
    """A real 1x1 PNG, so the browser can draw the thumbnail."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_attach_an_image_and_see_its_thumbnail(login, alice):
    page = login(alice, "alice-password")
    page.set_input_files(
        "#attach-input", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    expect(page.locator("#pending-attachments")).to_contain_text("dot.png")
    send(page, "What is in this picture?")
    expect(page.locator(REPLY)).to_have_count(1)
    thumbnail = page.locator("article.user img.attachment-thumb")
    expect(thumbnail).to_be_visible()
    # Drawn from the owner-only download route: the image loads and has its real size
    # (asked of the thumbnail shown now: the message may be drawn again meanwhile).
    page.wait_for_function(
        "() => document.querySelector('article.user img.attachment-thumb')?.naturalWidth > 0"
    )
    assert thumbnail.evaluate("img => img.naturalWidth") == 1
    expect(page.locator("#pending-attachments")).to_be_empty()
    question = Message.objects.get(role="user")
    assert [item.type for item in question.content.all()] == ["input_text", "input_image"]


def test_a_second_tab_follows_the_stream_and_deletions(login, alice, settings):
    page, other = two_tabs(login, alice, "alice-password", "First, to open a conversation")

    settings.DEMO_STREAM_DELAY = 0.03
    send(page, "Seen from the other tab")
    expect(other.locator("article.user").last).to_have_text(re.compile("Seen from the other tab"))
    expect(other.locator('article.assistant[data-status="in_progress"]')).to_have_count(1)
    expect(other.locator(REPLY)).to_have_count(2, timeout=20000)
    assert other.locator(REPLY).last.inner_text() == page.locator(REPLY).last.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("article.user").last.get_by_role("button", name="Delete").click()
    expect(other.locator("article.user")).to_have_count(1)


def test_hints_and_welcome_message_on_a_new_conversation(login, alice, settings):
    settings.CHAT_HINTS = ["Plan a trip", "Explain recursion"]
    settings.CHAT_WELCOME_MESSAGE = "Hello! **How** can I help?"
    page = login(alice, "alice-password")
    page.get_by_role("button", name="Explain recursion").click()
    expect(page.locator("article.assistant").first).to_contain_text("How can I help?")
    expect(page.locator("article.assistant strong").first).to_have_text("How")
    expect(page.locator("article.user")).to_contain_text("Explain recursion")
    expect(page.locator(REPLY)).to_have_count(2)
    expect(page.locator("#hints")).to_be_hidden()


def test_rename_search_and_archive_in_the_sidebar(login, alice):
    page = login(alice, "alice-password")
    send(page, "Travel plans")
    expect(page.locator(REPLY)).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept("Summer in Lisbon"))
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("#conversation-title")).to_have_text("Summer in Lisbon")
    expect(page.locator("#conversation-list")).to_contain_text("Summer in Lisbon")
    assert Conversation.objects.get().title == "Summer in Lisbon"

    page.fill("#search", "nothing like it")
    expect(page.locator("#conversation-list")).to_contain_text("Nothing found.")
    page.fill("#search", "Lisbon")
    expect(page.locator("#conversation-list li")).to_have_count(1)

    page.get_by_role("button", name="Archive").click()
    page.wait_for_url(HOME)
    expect(page.locator("#conversation-list")).not_to_contain_text("Lisbon")
    assert Conversation.objects.get().archived

    page.get_by_role("link", name="Archived").click()
    page.get_by_role("link", name="Summer in Lisbon").click()
    page.get_by_role("button", name="Restore").click()
    expect(page.get_by_role("button", name="Archive")).to_be_visible()
    expect(page.locator("#conversation-list")).to_contain_text("Summer in Lisbon")
    assert not Conversation.objects.get().archived


def drop_the_line(page):
    """Stand between the page and the server, drop its socket and refuse new ones.

    Returns the list to clear to let the page reconnect.
    """
    sockets, refusing = [], []

    def route(socket):
        if refusing:
            socket.close()
            return
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile("/ws/conversations/"), route)
    send(page, "Before the drop")
    expect(page.locator(REPLY)).to_have_count(1)
    refusing.append(True)
    sockets[-1].close()
    expect(page.locator("#connection")).to_contain_text("Connection lost")
    return refusing


def test_a_dropped_socket_reconnects_and_catches_up(login, alice):
    page = login(alice, "alice-password")
    refusing = drop_the_line(page)

    elsewhere = login(alice, "alice-password")
    elsewhere.goto(page.url)
    send(elsewhere, "While you were away")
    expect(elsewhere.locator(REPLY)).to_have_count(2, timeout=20000)
    expect(page.locator("article.user")).to_have_count(1)  # nothing arrived meanwhile

    refusing.clear()
    expect(page.locator("#connection")).to_have_text("", timeout=20000)
    expect(page.locator(REPLY)).to_have_count(2, timeout=20000)
    expect(page.locator("article.user").last).to_contain_text("While you were away")


def test_a_message_typed_while_offline_is_sent_when_the_line_is_back(login, alice):
    page = login(alice, "alice-password")
    refusing = drop_the_line(page)

    send(page, "Typed on the train")
    unsent = page.locator('article.user[data-status="unsent"]')
    expect(unsent).to_contain_text("Typed on the train")
    expect(unsent).to_contain_text("Not sent yet")
    assert not Message.objects.filter(content__text="Typed on the train").exists()

    refusing.clear()
    expect(page.locator(REPLY)).to_have_count(2, timeout=20000)
    expect(unsent).to_have_count(0)
    expect(page.locator("article.user").last).to_contain_text("Typed on the train")
    assert Message.objects.filter(role="user", content__text="Typed on the train").count() == 1


def test_a_reply_whose_end_frame_was_lost_still_ends(login, alice):
    page = login(alice, "alice-password")
    lost = []

    def route(socket):
        server = socket.connect_to_server()

        def to_page(frame):
            # Lose the reply's end on the way, as a channel layer past capacity would.
            if not lost and '"message.completed"' in frame:
                lost.append(frame)
                return
            socket.send(frame)

        server.on_message(to_page)

    page.route_web_socket(re.compile("/ws/conversations/"), route)
    send(page, "Lose the ending")

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "completed", timeout=20000)
    assert lost
    expect(reply.locator("table")).to_be_visible()  # the server's rendering, as stored
    stored = Message.objects.get(role="assistant")
    assert stored.status == "completed"


def test_logging_out_in_another_tab_sends_this_one_to_the_login_page(login, alice, server_url):
    page = login(alice, "alice-password")
    send(page, "Log me out")
    expect(page.locator(REPLY)).to_have_count(1)
    other_tab = page.context.new_page()
    other_tab.goto(f"{server_url}/")
    other_tab.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    expect(page.locator("h1")).to_have_text("Log in")


def test_pages_work_under_their_content_security_policy(
    login, alice, browser, server_url, csp_violations
):
    page = login(alice, "alice-password")
    send(page, "Does the policy let the page work?")
    reply = page.locator(REPLY)
    expect(reply.locator("table")).to_be_visible(timeout=20000)
    expect(reply.locator(".codeblock .highlight")).to_contain_text("def greet")

    # A table with aligned columns: alignment is a class, not a style attribute.
    conversation = make_conversation(alice, title="Aligned")
    question = make_message(conversation, text="A table?")
    answer = make_message(conversation, parent=question, role="assistant", text=ALIGNED_TABLE)
    Conversation.objects.filter(id=conversation.id).update(current_leaf=answer)
    page.goto(f"{server_url}/c/{conversation.id}/")
    expect(page.locator("article.assistant td").first).to_have_css("text-align", "right")
    share = services.share_create(conversation=conversation, user=alice, message=answer)

    stranger = browser.new_context()
    record_csp_violations(stranger, csp_violations)
    public = stranger.new_page()
    public.goto(f"{server_url}/s/{share.token}/")
    expect(public.locator("article.assistant td").first).to_have_css("text-align", "right")
    public.goto(f"{server_url}/admin/login/")
    expect(public.locator("#id_username")).to_be_visible()
    stranger.close()

    page.goto(f"{server_url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("chatproject API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert csp_violations == []


ALIGNED_TABLE = "| n | name |\n|--:|:--|\n| 1 | one |\n| 22 | twenty-two |\n"

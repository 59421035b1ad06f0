"""The chat page on a flaky network and after a server crash (issue 14, items 4 and 5): a
lost connection shows, messages typed meanwhile wait in sight, streams resume exactly,
and a reply orphaned by a dead server ends as interrupted with Retry."""

import re
import signal
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from conversations.llm.demo import demo_reply
from conversations.models import Message
from tests.browser.test_chat_layout import assert_within_screen, conversation_with_reply
from tests.browser.test_chat_ui import REPLY, last_reply, send


class Line:
    """Stands between the page and the server's websockets. Until `cut()` it passes frames
    both ways; cut, the open socket goes silent as over a dead network (nothing closes
    it, nothing arrives either way) and new sockets are refused, until `restore()`."""

    def __init__(self, page):
        self.dead = False
        page.route_web_socket(re.compile("/ws/conversations/"), self.route)

    def route(self, socket):
        if self.dead:
            socket.close()
            return
        server = socket.connect_to_server()
        server.on_message(lambda frame: None if self.dead else socket.send(frame))
        socket.on_message(lambda frame: None if self.dead else server.send(frame))

    def cut(self):
        self.dead = True

    def restore(self):
        self.dead = False


def connection_banner(page):
    return page.get_by_role("status").filter(has_text="Connection lost")


def shown_reply_text(reply) -> str:
    return reply.locator(".output-text").inner_text()


def stored_reply_text(reply_id) -> str:
    return Message.objects.get(id=reply_id).content.get(type="output_text").text


def test_a_line_gone_silent_shows_a_banner_keeps_the_message_and_resumes(login, alice, settings):
    # A slow reply, still being written when the line dies and, most likely, when it is back.
    settings.DEMO_STREAM_DELAY = 0.2
    page = login(alice, "alice-password")
    line = Line(page)
    send(page, "Tell me a long story")
    reply = last_reply(page)
    expect(reply.locator(".output-text")).to_contain_text("You said")

    # Nothing closes the socket: only the page's heartbeat finds out it is dead.
    line.cut()
    banner = connection_banner(page)
    expect(banner).to_be_visible(timeout=30000)
    expect(reply).to_have_attribute("data-status", "in_progress")
    expect(reply.locator(".status-line")).not_to_contain_text("Writing")
    expect(reply.locator(".typing")).to_have_count(0)

    send(page, "Typed in the tunnel")
    unsent = page.locator('article.user[data-status="unsent"]')
    expect(unsent).to_contain_text("Typed in the tunnel")
    expect(unsent).to_contain_text("Not sent yet")
    assert not Message.objects.filter(content__text="Typed in the tunnel").exists()

    settings.DEMO_STREAM_DELAY = 0.005  # the next reply need not be slow
    line.restore()
    expect(banner).to_be_hidden(timeout=30000)
    expect(page.locator(REPLY)).to_have_count(2, timeout=30000)
    expect(unsent).to_have_count(0)
    first = page.locator("article.assistant").first
    reply_id = first.get_attribute("data-message-id")
    # The stream resumed exactly: the text shown is the text stored, nothing lost or doubled.
    assert stored_reply_text(reply_id) == demo_reply("Tell me a long story")
    assert shown_reply_text(first).startswith("You said: Tell me a long story")
    expect(page.locator("article.user").last).to_contain_text("Typed in the tunnel")
    assert Message.objects.filter(role="user", content__text="Typed in the tunnel").count() == 1


def test_going_offline_shows_at_once_and_coming_back_resumes_the_reply(login, alice, settings):
    settings.DEMO_STREAM_DELAY = 0.2
    page = login(alice, "alice-password")
    line = Line(page)
    send(page, "Tell me a long story")
    reply = last_reply(page)
    expect(reply.locator(".output-text")).to_contain_text("You said")

    # Chromium's offline mode leaves an open websocket working: the line is cut as well.
    line.cut()
    page.context.set_offline(True)
    banner = connection_banner(page)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("offline")
    expect(reply.locator(".typing")).to_have_count(0)

    page.context.set_offline(False)
    line.restore()
    expect(banner).to_be_hidden(timeout=30000)
    expect(reply).to_have_attribute("data-status", "completed", timeout=30000)
    reply_id = reply.get_attribute("data-message-id")
    assert stored_reply_text(reply_id) == demo_reply("Tell me a long story")
    expect(reply.locator("table")).to_be_visible()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_connection_banner_fits_the_screen(login, alice, server_url, phone, scheme, tmp_path):
    conversation = conversation_with_reply(alice, "Trips")
    page = login(alice, "alice-password", color_scheme=scheme, phone=phone)
    line = Line(page)
    page.goto(f"{server_url}/c/{conversation.id}/")
    expect(page.locator("article.assistant strong")).to_have_text("surely")

    line.cut()
    page.context.set_offline(True)
    banner = connection_banner(page)
    expect(banner).to_be_visible()
    assert_within_screen(page, "#connection", "#send-button", "#composer-input")
    # It covers neither the conversation's header nor the composer.
    box = banner.bounding_box()
    for selector in ("#composer", ".chat-head"):
        other = page.locator(selector).bounding_box()
        assert box["y"] >= other["y"] + other["height"] or box["y"] + box["height"] <= other["y"]
    color, background = banner.evaluate(
        "node => [getComputedStyle(node).color, getComputedStyle(node).backgroundColor]"
    )
    assert color != background
    page.screenshot(path=tmp_path / f"offline-{'phone' if phone else 'desktop'}-{scheme}.png")

    page.context.set_offline(False)
    line.restore()
    expect(banner).to_be_hidden(timeout=30000)


def wait_for_stored_text(reply_id):
    deadline = time.monotonic() + 30
    while not Message.objects.get(id=reply_id).content.filter(type="output_text").exists():
        assert time.monotonic() < deadline, "the reply was never written"
        time.sleep(0.1)


def test_a_reply_orphaned_by_a_crashed_server_shows_interrupted_and_retries(
    login, alice, server_url, server_process
):
    # The page is served by a server process of its own, killed mid-reply then restarted
    # on the same port, where the page reconnects.
    doomed_url, doomed = server_process(DEMO_STREAM_DELAY="0.2")
    page = login(alice, "alice-password")  # the session cookie holds for every port
    page.goto(f"{doomed_url}/")
    send(page, "Do not stop")
    reply = last_reply(page)
    expect(reply.locator(".output-text")).to_contain_text("You said")
    reply_id = reply.get_attribute("data-message-id")
    orphan = page.locator(f'article[data-message-id="{reply_id}"]')
    wait_for_stored_text(reply_id)

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    banner = connection_banner(page)
    expect(banner).to_be_visible(timeout=30000)
    expect(orphan.locator(".typing")).to_have_count(0)
    send(page, "Are you back?")
    expect(page.locator('article.user[data-status="unsent"]')).to_contain_text("Not sent yet")
    server_process(port=urlsplit(doomed_url).port)

    # Back: the orphan is interrupted, with Retry; the next message is not blocked by it.
    expect(banner).to_be_hidden(timeout=30000)
    expect(orphan).to_have_attribute("data-status", "incomplete", timeout=30000)
    expect(orphan.locator(".status-line")).to_contain_text("The server stopped")
    expect(orphan.get_by_role("button", name="Retry")).to_be_visible()
    expect(orphan.locator(".typing")).to_have_count(0)
    assert Message.objects.get(id=reply_id).status == "incomplete"
    expect(page.locator(REPLY)).to_have_count(1, timeout=30000)
    expect(last_reply(page)).to_contain_text("You said: Are you back?")
    assert Message.objects.filter(role="user", content__text="Are you back?").count() == 1

    # Retry regenerates the interrupted reply: a new version beside it, on the shown path.
    orphan.get_by_role("button", name="Retry").click()
    expect(page.locator(".branch-position")).to_have_text("2/2")
    expect(page.locator(REPLY)).to_have_count(1, timeout=30000)
    expect(last_reply(page)).to_contain_text("You said: Do not stop")
    expect(page.locator("article.user")).to_have_count(1)

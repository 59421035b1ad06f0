"""A reply is markdown while it streams, and its end changes nothing visible (issue 14,
item 3)."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat_ui import last_reply, send


def hold_frames(page):
    """Stand between the page and the server: pass frames until the reply's text opens a
    code fence, then hold every frame but the heartbeat's until `release()`; after that,
    hold only the reply's end until `release()` again."""
    held, text, mode, sockets = [], [], ["fence"], []

    def route(socket):
        server = socket.connect_to_server()
        sockets.append(socket)

        def to_page(frame):
            data = json.loads(frame)
            if data["type"] == "pong":  # the line is alive: only the reply's frames wait
                socket.send(frame)
            elif mode[0] == "fence" and data["type"] == "message.delta":
                text.append(data["delta"] if data["item_type"] == "output_text" else "")
                if "".join(text).count("```") == 1:
                    mode[0] = "holding"
                socket.send(frame)
            elif mode[0] == "holding" or (mode[0] == "end" and data["type"] == "message.completed"):
                held.append(frame)
            else:
                socket.send(frame)

        server.on_message(to_page)

    def release():
        mode[0] = "end" if mode[0] == "holding" else "done"
        frames = held[:]
        held.clear()
        for frame in frames:
            if mode[0] == "end" and json.loads(frame)["type"] == "message.completed":
                # The reply ended while everything was held (a slow machine): its end
                # still waits for the second release.
                held.append(frame)
            else:
                sockets[-1].send(frame)
        return frames

    page.route_web_socket(re.compile("/ws/conversations/"), route)
    return held, release


def box_and_html(locator):
    return locator.evaluate(
        "node => [node.innerHTML, node.innerText, JSON.stringify(node.getBoundingClientRect())]"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_streaming_reply_is_markdown_and_its_end_changes_nothing(login, alice, settings, scheme):
    settings.DEMO_STREAM_DELAY = 0.05
    page = login(alice, "alice-password", color_scheme=scheme)
    held, release = hold_frames(page)
    send(page, "Stream some markdown")
    reply = last_reply(page)
    # Held with a code fence open: the partial reply is markdown, the open fence is code.
    expect(reply).to_have_attribute("data-status", "in_progress")
    expect(reply.locator(".output-text strong")).to_have_text("demo model")
    expect(reply.locator(".output-text table")).to_be_visible()
    expect(reply.locator(".output-text math")).to_have_count(1)
    expect(reply.locator(".output-text .codeblock")).to_be_visible()
    expect(reply.locator(".output-text")).not_to_contain_text("**")

    release()  # the rest of the reply, but not its end
    expect(reply.locator(".codeblock pre")).to_contain_text('return f"Hello, {name}!"')
    expect(reply).to_have_attribute("data-status", "in_progress")
    end = None
    for _ in range(400):  # the reply's end, held on its way to the page
        if held:
            end = json.loads(held[0])
            break
        page.wait_for_timeout(50)
    assert end is not None and end["type"] == "message.completed"
    final_text = next(i["text"] for i in end["message"]["content"] if i["type"] == "output_text")
    expect(reply.locator(".output-text")).to_have_attribute(
        "data-rendered-length", str(len(final_text))
    )
    before = box_and_html(reply.locator(".output-text"))

    release()
    expect(reply).to_have_attribute("data-status", "completed")
    after = box_and_html(reply.locator(".output-text"))
    assert after == before

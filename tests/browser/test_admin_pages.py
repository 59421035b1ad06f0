"""The admin as staff read it every day, at 1280 px: the conversation tree, the feedback
rows and the upload previews, under the Content-Security-Policy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from conversations import services
from conversations.models import ContentItem, Conversation, Feedback
from tests.browser.test_chat_ui import tiny_png
from tests.factories import make_conversation, make_message

WIDE = "An answer long enough to wrap in the feedback list, " * 6


@pytest.fixture
def triage(alice):
    conversation = make_conversation(alice, title="Triage")
    question = make_message(conversation, text="Is this answer right? " * 10)
    answer = make_message(conversation, question, role="assistant", text=WIDE, model="m-1")
    retry = make_message(conversation, question, role="assistant", text="A second try")
    ContentItem.objects.create(message=retry, index=1, type="reasoning", text="Hidden reasoning")
    Conversation.objects.filter(id=conversation.id).update(current_leaf=retry)
    Feedback.objects.create(
        message=answer,
        user=alice,
        rating="bad",
        comment="Too long and not quite right. " * 8,
        reasons=["inaccurate", "too long"],
        model="m-1",
    )
    services.attachment_create(
        owner=alice, file=SimpleUploadedFile("beach.png", tiny_png(), content_type="image/png")
    )
    return conversation


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_staff_read_the_tree_feedback_and_previews_at_1280(
    browser, login, staff, server_url, triage, scheme, tmp_path
):
    page = login(staff, "staff-password", color_scheme=scheme)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{server_url}/admin/conversations/conversation/{triage.id}/change/")
    rows = page.locator("li.tree-row")
    expect(rows).to_have_count(3)
    question, first, second = (rows.nth(n).bounding_box() for n in range(3))
    assert first["x"] > question["x"] and second["x"] == first["x"]  # indented branches
    expect(rows.nth(2)).to_contain_text("branch 2 of 2")
    expect(page.locator(".field-message_tree")).not_to_contain_text("Hidden reasoning")
    page.screenshot(path=tmp_path / f"admin-tree-{scheme}.png", full_page=True)

    page.goto(f"{server_url}/admin/conversations/feedback/")
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("inaccurate, too long")
    expect(row.locator(".reply")).to_contain_text("An answer long enough")
    expect(row.locator(".prompt")).to_contain_text("Is this answer right?")
    expect(row.locator(".comment")).to_contain_text("not quite right")
    # Every column fits: the list needs no sideways scrolling, nor does the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator(".results").evaluate("list => list.scrollWidth <= list.clientWidth")
    page.screenshot(path=tmp_path / f"admin-feedback-{scheme}.png", full_page=True)

    page.goto(f"{server_url}/admin/conversations/attachment/")
    thumbnail = page.locator("img.attachment-preview")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 1

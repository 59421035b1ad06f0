"""The shared page as a visitor who is not logged in sees it (issue 14, item 7): the
branch's images and files, working Copy buttons, readable dates."""

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from conversations import services
from conversations.models import ContentItem, Conversation, Share
from tests.browser.conftest import DESKTOP, PHONE, record_csp_violations, record_page_errors
from tests.browser.test_chat_ui import tiny_png
from tests.factories import make_conversation, make_message

CODE = "def greet(name):\n    return f'Hello {name}'"
SHARED_AT = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)


def attach(message, upload, index=1):
    item_type = "input_image" if upload.content_type.startswith("image/") else "input_file"
    data = {"file_id": str(upload.id)}
    if item_type == "input_file":
        data["filename"] = upload.name
    ContentItem.objects.create(message=message, index=index, type=item_type, data=data)


@pytest.fixture
def shared(alice):
    """A branch whose question carries an image and a file, answered with a code block,
    shared; an image on another branch and another user's upload stay private."""
    photo = services.attachment_create(
        owner=alice, file=SimpleUploadedFile("beach.png", tiny_png(), content_type="image/png")
    )
    notes = services.attachment_create(
        owner=alice,
        file=SimpleUploadedFile("notes.txt", b"pack sunscreen", content_type="text/plain"),
    )
    private = services.attachment_create(
        owner=alice, file=SimpleUploadedFile("private.png", tiny_png(), content_type="image/png")
    )
    conversation = make_conversation(alice, title="Beach trip")
    question = make_message(conversation, text="What should I bring?")
    attach(question, photo)
    attach(question, notes, index=2)
    answer = make_message(
        conversation, question, role="assistant", text=f"Bring this:\n\n```python\n{CODE}\n```"
    )
    other = make_message(conversation, text="Something else")
    attach(other, private)
    Conversation.objects.filter(id=conversation.id).update(current_leaf=answer)
    share = services.share_create(conversation=conversation, user=alice, message=answer)
    Share.objects.filter(id=share.id).update(created_at=SHARED_AT)
    return {"token": share.token, "photo": photo, "notes": notes, "private": private}


@pytest.fixture
def visitor(browser, csp_violations, page_errors):
    """A browser that never logged in, in English and UTC, reporting console errors."""
    contexts, console_errors = [], []

    def open_context(color_scheme, phone):
        context = browser.new_context(
            color_scheme=color_scheme,
            locale="en-GB",
            timezone_id="UTC",
            **(PHONE if phone else DESKTOP),
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        record_csp_violations(context, csp_violations)
        record_page_errors(context, page_errors)
        context.on(
            "console",
            lambda message: message.type == "error" and console_errors.append(message.text),
        )
        contexts.append(context)
        return context.new_page()

    yield open_context
    for context in contexts:
        context.close()
    assert not console_errors, "\n".join(console_errors)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_visitor_sees_images_files_and_dates_and_copies_code(
    visitor, server_url, shared, scheme, phone, tmp_path
):
    page = visitor(scheme, phone)
    token = shared["token"]
    page.goto(f"{server_url}/s/{token}/")

    image = page.locator("article.user img.attachment-thumb")
    expect(image).to_have_attribute("src", f"/s/{token}/files/{shared['photo'].id}/")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 1
    file_link = page.get_by_role("link", name="notes.txt")
    expect(file_link).to_have_attribute("href", f"/s/{token}/files/{shared['notes'].id}/")
    downloaded = page.request.get(f"{server_url}/s/{token}/files/{shared['notes'].id}/")
    assert downloaded.status == 200 and downloaded.body() == b"pack sunscreen"

    shared_at = page.locator(".shared-note time")
    expect(shared_at).to_have_text("29 Nov 2026, 14:05")
    expect(shared_at).to_have_attribute("datetime", "2026-11-29T14:05:00Z")

    copy = page.get_by_role("button", name="Copy code")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == CODE + "\n"

    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(13, 17, 23)")
    page.screenshot(path=tmp_path / f"shared-{scheme}-{'phone' if phone else 'desktop'}.png")


def test_a_visitor_reaches_no_file_outside_the_shared_branch(visitor, server_url, shared, bob):
    page = visitor("light", False)
    token = shared["token"]
    theirs = services.attachment_create(
        owner=bob, file=SimpleUploadedFile("bob.png", tiny_png(), content_type="image/png")
    )
    for other in (shared["private"].id, theirs.id):
        assert page.request.get(f"{server_url}/s/{token}/files/{other}/").status == 404
    # The owner's own route is not open to the visitor either.
    assert page.request.get(f"{server_url}/api/attachments/{shared['photo'].id}/").status in (
        401,
        403,
        404,
    )

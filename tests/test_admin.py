import csv
import io
import re

import pytest
from django.contrib import admin
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations import services
from conversations.models import Attachment, ContentItem, Conversation, Feedback, Share
from tests.factories import make_conversation, make_message


@pytest.fixture
def conversation(alice):
    conversation = make_conversation(alice, title="Admin view")
    question = make_message(conversation, text="What is a monad?")
    answer = make_message(
        conversation, question, role="assistant", text="A monoid in the category", model="m-1"
    )
    conversation.current_leaf = answer
    conversation.save()
    return conversation


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_conversation_list_shows_owner_title_and_message_count(staff_client, conversation):
    response = staff_client.get(reverse("admin:conversations_conversation_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Admin view" in body
    assert "alice" in body
    assert '<td class="field-message_count">2</td>' in body


def test_conversation_search_and_filters(staff_client, conversation, bob):
    make_conversation(bob, title="Bob's plans")
    url = reverse("admin:conversations_conversation_changelist")
    body = staff_client.get(url, {"q": "bob"}).content.decode()
    assert "Bob&#x27;s plans" in body and "Admin view" not in body
    body = staff_client.get(url, {"archived__exact": "1"}).content.decode()
    assert "Admin view" not in body


def test_conversation_page_shows_messages_read_only(staff_client, conversation):
    url = reverse("admin:conversations_conversation_change", args=[conversation.id])
    response = staff_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "What is a monad?" in body
    assert "A monoid in the category" in body
    # View only: no form fields for the title or message content.
    assert 'name="title"' not in body
    assert "<textarea" not in body


def test_message_admin_cannot_change_content(staff_client, conversation):
    message = conversation.current_leaf
    response = staff_client.post(
        reverse("admin:conversations_message_change", args=[message.id]), {"status": "failed"}
    )
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "completed"


def test_message_admin_delete_repairs_the_shown_branch(staff_client, conversation):
    question = conversation.current_leaf.parent
    response = staff_client.post(
        reverse("admin:conversations_message_delete", args=[conversation.current_leaf_id]),
        {"post": "yes"},
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == question.id
    assert list(conversation.messages.values_list("id", flat=True)) == [question.id]


def test_non_staff_users_are_sent_to_the_admin_login(client, alice, conversation):
    client.force_login(alice)
    response = client.get(reverse("admin:conversations_conversation_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_every_admin_changelist_renders(staff_client, conversation):
    for model in ("conversation", "message", "feedback", "share", "attachment"):
        response = staff_client.get(reverse(f"admin:conversations_{model}_changelist"))
        assert response.status_code == 200, model


def changelists():
    """(url, admin) of every change list the project registers."""
    return [
        (reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"), model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in ("conversations", "auth")
    ]


def test_a_filter_holding_a_nul_is_the_admins_own_bad_filter_answer(staff_client, conversation):
    """PostgreSQL cannot be asked about U+0000: the page says the filter is wrong (Django
    sends a bad filter to `?e=1`), not a 500."""
    for url, model_admin in changelists():
        fields = [name for name in model_admin.list_filter if isinstance(name, str)]
        for name in [*fields, "q"]:
            response = staff_client.get(url, {name: "a\x00b"})
            assert response.status_code in (200, 302), (url, name)
            if response.status_code == 302:
                assert response["Location"].endswith("?e=1"), (url, name)


def test_an_action_on_ids_that_name_nothing_changes_nothing(staff_client, staff, rf, conversation):
    before = Conversation.objects.count(), conversation.messages.count()
    for url, model_admin in changelists():
        request = rf.get(url)
        request.user = staff
        offers_actions = bool(model_admin.get_actions(request))
        for action in model_admin.actions or ["delete_selected"]:
            for selected in (["not-an-id"], ["\x00"], [str(conversation.id), "12x"]):
                form = {"action": action, "_selected_action": selected, "index": "0"}
                response = staff_client.post(url, form, follow=True)
                assert response.status_code == 200, (url, action, selected)
                said = "No items were changed" in response.content.decode()
                assert said == offers_actions, (url, action, selected)
    assert (Conversation.objects.count(), conversation.messages.count()) == before


def export_feedback_csv(staff_client) -> list[list[str]]:
    response = staff_client.post(
        reverse("admin:conversations_feedback_changelist"),
        {"action": "export_csv", "_selected_action": Feedback.objects.values_list("id", flat=True)},
    )
    assert response["Content-Type"] == "text/csv"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_feedback_csv_export(staff_client, conversation, alice):
    answer = conversation.current_leaf
    ContentItem.objects.create(
        message=answer, index=1, type="reasoning", text="Think of endofunctors"
    )
    feedback = Feedback.objects.create(
        message=answer,
        user=alice,
        rating="bad",
        comment="Wrong, and smug",
        reasons=["inaccurate", "tone"],
        model="m-1",
    )
    rows = export_feedback_csv(staff_client)
    assert rows[0] == [
        "date",
        "user",
        "rating",
        "reasons",
        "comment",
        "model",
        "prompt",
        "reply",
        "reasoning",
        "conversation",
        "conversation_id",
        "message_id",
    ]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row == {
        "date": feedback.created_at.isoformat(),
        "user": "alice",
        "rating": "bad",
        "reasons": "inaccurate; tone",
        "comment": "Wrong, and smug",
        "model": "m-1",
        "prompt": "What is a monad?",
        "reply": "A monoid in the category",
        "reasoning": "Think of endofunctors",
        "conversation": "http://testserver"
        + reverse("admin:conversations_conversation_change", args=[conversation.id]),
        "conversation_id": str(conversation.id),
        "message_id": str(answer.id),
    }


def test_feedback_csv_export_keeps_formulas_as_text(staff_client, conversation, alice):
    Feedback.objects.create(
        message=conversation.current_leaf,
        user=alice,
        rating="bad",
        comment='=HYPERLINK("https://evil.example","click")',
        reasons=["\ttab", "-2"],
        model="@m",
    )
    header, row = export_feedback_csv(staff_client)
    row = dict(zip(header, row, strict=True))
    assert row["reasons"] == "'\ttab; -2"
    assert row["comment"] == '\'=HYPERLINK("https://evil.example","click")'
    assert row["model"] == "'@m"
    assert (row["user"], row["rating"]) == ("alice", "bad")


def test_share_revoke_action(staff_client, conversation, alice):
    share = Share.objects.create(
        token="t" * 43,
        conversation=conversation,
        created_by=alice,
        message=conversation.current_leaf,
    )
    staff_client.post(
        reverse("admin:conversations_share_changelist"),
        {"action": "revoke", "_selected_action": [share.id]},
    )
    share.refresh_from_db()
    assert share.revoked_at is not None
    assert not share.is_active()


def test_admin_delete_removes_the_whole_conversation(staff_client, conversation):
    response = staff_client.post(
        reverse("admin:conversations_conversation_delete", args=[conversation.id]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Conversation.objects.filter(id=conversation.id).exists()


def test_deleting_uploads_in_admin_removes_their_stored_files(staff_client, alice):
    uploads = [
        services.attachment_create(owner=alice, file=SimpleUploadedFile(f"{n}.txt", b"data"))
        for n in ("one", "two", "three")
    ]
    names = [upload.file.name for upload in uploads]
    assert all(default_storage.exists(name) for name in names)

    response = staff_client.post(
        reverse("admin:conversations_attachment_delete", args=[uploads[0].id]), {"post": "yes"}
    )
    assert response.status_code == 302
    response = staff_client.post(
        reverse("admin:conversations_attachment_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [str(upload.id) for upload in uploads[1:]],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


def tree_rows(body: str) -> list[tuple[int, str]]:
    """The rows of a conversation page's message tree: (indentation level, row text)."""
    rows = re.findall(r'<li class="tree-row level-(\d+)[^"]*">(.*?)</li>', body, re.S)
    return [(int(level), " ".join(re.sub(r"<[^>]+>", " ", html).split())) for level, html in rows]


def test_conversation_page_shows_the_tree_indented_by_branch(staff_client, conversation):
    question = conversation.current_leaf.parent
    retry = make_message(
        conversation, question, role="assistant", text="A functor with extras", status="failed"
    )
    ContentItem.objects.create(message=retry, index=1, type="reasoning", text="SECRET THOUGHTS")
    follow_up = make_message(conversation, retry, text="And a functor?")
    url = reverse("admin:conversations_conversation_change", args=[conversation.id])
    body = staff_client.get(url).content.decode()

    rows = tree_rows(body)
    assert [level for level, _ in rows] == [0, 1, 1, 1]
    assert rows[0][1].startswith("user completed What is a monad?")
    assert "assistant completed A monoid in the category" in rows[1][1]
    assert "branch 1 of 2" in rows[1][1]
    assert "assistant failed A functor with extras" in rows[2][1]
    assert "branch 2 of 2" in rows[2][1]
    assert "And a functor?" in rows[3][1]
    assert "SECRET THOUGHTS" not in body  # the reasoning is not the answer
    for message in (question, conversation.current_leaf, retry, follow_up):
        assert reverse("admin:conversations_message_change", args=[message.id]) in body


def test_messages_can_be_searched_by_text_title_and_owner(staff_client, conversation, bob):
    other = make_conversation(bob, title="Gardening")
    make_message(other, text="When to plant tulips?")
    url = reverse("admin:conversations_message_changelist")
    body = staff_client.get(url).content.decode()
    assert 'id="searchbar"' in body

    def found(query):
        body = staff_client.get(url, {"q": query}).content.decode()
        return {text for text in ("monad", "monoid", "tulips") if text in body}

    assert found("monoid") == {"monoid"}
    assert found("Gardening") == {"tulips"}
    assert found("alice") == {"monad", "monoid"}


def test_feedback_list_shows_who_said_what_about_which_reply(staff_client, conversation, alice):
    alice.first_name, alice.last_name = "Alice", "Liddell"
    alice.save()
    Feedback.objects.create(
        message=conversation.current_leaf,
        user=alice,
        rating="bad",
        comment="Wrong, and smug",
        reasons=["inaccurate", "tone"],
        model="m-1",
    )
    body = staff_client.get(reverse("admin:conversations_feedback_changelist")).content.decode()
    for text in (
        "Alice Liddell",
        "What is a monad?",
        "A monoid in the category",
        "bad",
        "inaccurate, tone",
        "Wrong, and smug",
    ):
        assert text in body, text


def share_with_image(alice, conversation):
    image = services.attachment_create(
        owner=alice, file=SimpleUploadedFile("cat.png", b"\x89PNG fake", content_type="image/png")
    )
    question = conversation.current_leaf.parent
    ContentItem.objects.create(
        message=question, index=1, type="input_image", data={"file_id": str(image.id)}
    )
    share = services.share_create(
        conversation=conversation, user=alice, message=conversation.current_leaf
    )
    return share, f"/s/{share.token}/files/{image.id}/"


@pytest.mark.parametrize("deleted", ["message", "conversation"])
def test_deleting_revokes_shares_and_keeps_them_for_the_audit(
    staff_client, client, conversation, alice, deleted
):
    share, file_url = share_with_image(alice, conversation)
    assert client.get(f"/s/{share.token}/").status_code == 200
    assert client.get(file_url).status_code == 200
    doomed = conversation.current_leaf.parent if deleted == "message" else conversation
    response = staff_client.post(
        reverse(f"admin:conversations_{deleted}_delete", args=[doomed.id]), {"post": "yes"}
    )
    assert response.status_code == 302

    share.refresh_from_db()
    assert share.revoked_at is not None
    assert share.revoked_reason == f"The shared {deleted} was deleted."
    assert share.message is None
    assert client.get(f"/s/{share.token}/").status_code == 404
    assert client.get(f"/api/shared/{share.token}/").status_code == 404
    assert client.get(file_url).status_code == 404
    body = staff_client.get(reverse("admin:conversations_share_changelist")).content.decode()
    assert share.token[:8] in body
    assert f"The shared {deleted} was deleted." in body
    detail = reverse("admin:conversations_share_change", args=[share.id])
    assert staff_client.get(detail).status_code == 200


def test_revoking_in_admin_records_who_revoked(staff_client, conversation, alice):
    share, _ = share_with_image(alice, conversation)
    staff_client.post(
        reverse("admin:conversations_share_changelist"),
        {"action": "revoke", "_selected_action": [share.id]},
    )
    share.refresh_from_db()
    assert share.revoked_reason == "Revoked by staff."
    assert share.message_id == conversation.current_leaf_id


def test_attachments_show_an_image_preview_to_staff_only(staff_client, client, alice, bob):
    image = services.attachment_create(
        owner=alice, file=SimpleUploadedFile("cat.png", b"\x89PNG fake", content_type="image/png")
    )
    page = services.attachment_create(
        owner=alice,
        file=SimpleUploadedFile(
            "evil.html", b"<script>alert(1)</script>", content_type="text/html"
        ),
    )
    preview = reverse("admin:conversations_attachment_preview", args=[image.id])
    html_preview = reverse("admin:conversations_attachment_preview", args=[page.id])

    body = staff_client.get(reverse("admin:conversations_attachment_changelist")).content.decode()
    assert f'<img class="attachment-preview" src="{preview}" alt="cat.png"' in body
    assert f'src="{html_preview}"' not in body  # only images are previewed
    detail = reverse("admin:conversations_attachment_change", args=[image.id])
    assert f'src="{preview}"' in staff_client.get(detail).content.decode()

    response = staff_client.get(preview)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    # Uploaded HTML is never shown as a page, even to staff: it downloads.
    response = staff_client.get(html_preview)
    assert response["Content-Disposition"].startswith("attachment")
    for visitor in (alice, bob):
        client.force_login(visitor)
        response = client.get(preview)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))

import csv
import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations import services
from conversations.models import Attachment, Conversation, Feedback, Share
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


def export_feedback_csv(staff_client) -> list[list[str]]:
    response = staff_client.post(
        reverse("admin:conversations_feedback_changelist"),
        {"action": "export_csv", "_selected_action": Feedback.objects.values_list("id", flat=True)},
    )
    assert response["Content-Type"] == "text/csv"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_feedback_csv_export(staff_client, conversation, alice):
    answer = conversation.current_leaf
    Feedback.objects.create(
        message=answer,
        user=alice,
        rating="bad",
        comment="Wrong, and smug",
        reasons=["inaccurate", "tone"],
        model="m-1",
    )
    rows = export_feedback_csv(staff_client)
    assert rows[0][:4] == ["message_id", "conversation_id", "user", "rating"]
    assert rows[1][2:8] == [
        "alice",
        "bad",
        "inaccurate; tone",
        "Wrong, and smug",
        "m-1",
        "A monoid in the category",
    ]


def test_feedback_csv_export_keeps_formulas_as_text(staff_client, conversation, alice):
    Feedback.objects.create(
        message=conversation.current_leaf,
        user=alice,
        rating="bad",
        comment='=HYPERLINK("https://evil.example","click")',
        reasons=["\ttab", "-2"],
        model="@m",
    )
    row = export_feedback_csv(staff_client)[1]
    assert row[4:7] == ["'\ttab; -2", '\'=HYPERLINK("https://evil.example","click")', "'@m"]
    assert row[2:4] == ["alice", "bad"]


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

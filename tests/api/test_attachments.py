from django.core.files.uploadedfile import SimpleUploadedFile

from conversations.content import UPLOAD_ENVELOPE_BYTES
from conversations.models import Attachment, Message
from tests.factories import make_conversation, make_message


def upload(client, name="cat.png", data=b"\x89PNG fake", content_type="image/png"):
    return client.post(
        "/api/attachments/",
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def test_upload_then_send_it_with_a_message(api, alice, bob, bob_api):
    response = upload(api)
    assert response.status_code == 201, response.json()
    image = response.json()
    assert (image["name"], image["content_type"], image["size"]) == ("cat.png", "image/png", 9)
    document = upload(api, "notes.txt", b"hello", "text/plain").json()
    # A reply is running, so this one only queues (the model is not called here).
    conversation = make_conversation(alice)
    running = make_message(conversation, role="assistant", text="", status="in_progress")
    conversation.current_leaf = running
    conversation.save()
    response = api.post(
        f"/api/conversations/{conversation.id}/continue/",
        {"content": "look", "attachments": [image["id"], document["id"]]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["messages"][-2]["content"] == [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "file_id": image["id"]},
        {"type": "input_file", "file_id": document["id"], "filename": "notes.txt"},
    ]
    # Bob cannot use Alice's upload, by id or by file_id.
    bobs = make_conversation(bob)
    for body in (
        {"content": "mine?", "attachments": [image["id"]]},
        {"content": [{"type": "input_image", "file_id": image["id"]}]},
    ):
        response = bob_api.post(f"/api/conversations/{bobs.id}/continue/", body, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_attachment"
    assert not Message.objects.filter(conversation=bobs).exists()


def test_too_large_an_upload_is_413(api, settings):
    settings.CHAT_MAX_ATTACHMENT_BYTES = 4
    response = upload(api)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == "The upload has 9 bytes; a file may have 4."
    assert not Attachment.objects.exists()


def test_an_upload_is_refused_on_its_content_length_before_it_is_parsed(api, settings):
    settings.CHAT_MAX_ATTACHMENT_BYTES = 1000
    # Not even multipart: only the declared size is looked at.
    body = b"x" * (1000 + UPLOAD_ENVELOPE_BYTES + 1)
    response = api.generic(
        "POST", "/api/attachments/", body, content_type="multipart/form-data; boundary=zz"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Attachment.objects.exists()


def test_only_the_owner_downloads_an_upload_and_only_images_open_inline(api, bob_api):
    image = upload(api).json()
    page = upload(api, "page.html", b"<script>alert(1)</script>", "text/html").json()

    response = api.get(f"/api/attachments/{image['id']}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert api.get(f"/api/attachments/{page['id']}/")["Content-Disposition"].startswith(
        "attachment"
    )
    assert bob_api.get(f"/api/attachments/{image['id']}/").status_code == 404
    assert api.get("/api/attachments/not-an-id/").status_code == 404


def test_an_upload_whose_type_is_not_a_media_type_is_kept_as_plain_bytes(api):
    """A client may declare anything as the part's type; it is served back as a header,
    so what is not a media type is stored as `application/octet-stream` (and downloads)."""
    for declared in ("\x00/\x00", "not a type", "text/<html>", "/", "a/" + "b" * 99):
        response = upload(api, "note.txt", b"hello", declared)
        assert response.status_code == 201, (declared, response.content)
        stored = Attachment.objects.get(id=response.json()["id"])
        assert stored.content_type == "application/octet-stream", declared
        download = api.get(f"/api/attachments/{stored.id}/")
        assert download["Content-Type"] == "application/octet-stream"
        assert download["Content-Disposition"].startswith("attachment")
    assert (
        Attachment.objects.get(id=upload(api, content_type="Image/PNG").json()["id"]).content_type
        == "image/png"
    )

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conversations.models import ContentItem, Share
from tests.api.test_attachments import upload
from tests.factories import make_conversation, make_message


@pytest.fixture
def conversation(alice):
    conversation = make_conversation(alice, title="Trip", system_prompt="private prompt")
    q = make_message(conversation, role="user", text="where to?")
    a = make_message(conversation, q, role="assistant", text="the sea")
    q2 = make_message(conversation, a, role="user", text="when?")
    a2 = make_message(conversation, q2, role="assistant", text="in june")
    conversation.current_leaf = a2
    conversation.save()
    return conversation


def test_share_the_branch_up_to_a_message_and_view_it_anonymously(api, anon, conversation):
    answer = conversation.messages.get(content__text="the sea")
    response = api.post(
        f"/api/conversations/{conversation.id}/shares/",
        {"message_id": str(answer.id)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    share = response.json()
    assert len(share["token"]) >= 43
    assert share["url"].endswith(f"/s/{share['token']}/")
    assert share["api_url"].endswith(f"/api/shared/{share['token']}/")
    public = anon.get(f"/api/shared/{share['token']}/")
    assert public.status_code == 200
    body = public.json()
    assert body["title"] == "Trip"
    assert [m["content"][0]["text"] for m in body["messages"]] == ["where to?", "the sea"]
    text = public.content.decode()
    assert "alice" not in text and "private prompt" not in text
    assert "feedback" not in body["messages"][0]


def test_share_a_selection(api, anon, conversation):
    ids = [str(m.id) for m in conversation.messages.order_by("created_at")]
    token = api.post(
        f"/api/conversations/{conversation.id}/shares/",
        {"selected": [ids[1], ids[3]]},
        format="json",
    ).json()["token"]
    body = anon.get(f"/api/shared/{token}/").json()
    assert [m["content"][0]["text"] for m in body["messages"]] == ["the sea", "in june"]


def test_revoked_and_expired_links_are_404(api, anon, conversation):
    url = f"/api/conversations/{conversation.id}/shares/"
    token = api.post(url, {}, format="json").json()["token"]
    assert api.delete(f"/api/shares/{token}/").status_code == 204
    assert anon.get(f"/api/shared/{token}/").status_code == 404
    assert api.get(url).json()[0]["active"] is False

    soon = (timezone.now() + timedelta(hours=1)).isoformat()
    token = api.post(url, {"expires_at": soon}, format="json").json()["token"]
    assert anon.get(f"/api/shared/{token}/").status_code == 200
    Share.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert anon.get(f"/api/shared/{token}/").status_code == 404


def test_deleting_the_shared_message_ends_the_link_as_before(api, anon, conversation):
    """The share row stays for staff's audit (revoked), but the owner's API answers as if
    it were gone, as it was before shares were kept."""
    url = f"/api/conversations/{conversation.id}/shares/"
    question = conversation.messages.get(content__text="where to?")
    kept = api.post(url, {"message_id": str(question.id)}, format="json").json()["token"]
    answer = conversation.messages.get(content__text="the sea")
    gone = api.post(url, {"message_id": str(answer.id)}, format="json").json()["token"]
    assert api.delete(f"/api/messages/{answer.id}/").status_code == 204

    assert anon.get(f"/api/shared/{gone}/").status_code == 404
    assert anon.get(f"/s/{gone}/").status_code == 404
    assert api.get(f"/api/shares/{gone}/").status_code == 404
    assert api.delete(f"/api/shares/{gone}/").status_code == 404
    assert [share["token"] for share in api.get(url).json()] == [kept]
    share = Share.objects.get(token=gone)
    assert share.revoked_at is not None and share.message_id is None
    assert share.revoked_reason == "The shared message was deleted."


def test_bad_share_requests_are_400(api, conversation, alice):
    url = f"/api/conversations/{conversation.id}/shares/"
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert api.post(url, {"expires_at": past}, format="json").json()["code"] == "invalid_share"
    elsewhere = make_message(make_conversation(alice), text="elsewhere")
    response = api.post(url, {"selected": [str(elsewhere.id)]}, format="json")
    assert response.status_code == 400
    empty = make_conversation(alice)
    response = api.post(f"/api/conversations/{empty.id}/shares/", {}, format="json")
    assert response.json()["code"] == "invalid_share"


def test_a_token_with_nul_or_junk_is_404(api, anon, conversation):
    for token in ("%00", "a%00b", "%C3%A9", "x" * 65):
        assert anon.get(f"/api/shared/{token}/").status_code == 404
        assert anon.get(f"/s/{token}/").status_code == 404
        assert api.get(f"/api/shares/{token}/").json()["code"] == "not_found"


def test_renaming_the_conversation_after_sharing_does_not_change_the_link(api, anon, conversation):
    share = api.post(f"/api/conversations/{conversation.id}/shares/", {}, format="json").json()
    assert share["title"] == "Trip"
    api.patch(f"/api/conversations/{conversation.id}/", {"title": "Secret plans"}, format="json")
    assert anon.get(f"/api/shared/{share['token']}/").json()["title"] == "Trip"
    page = anon.get(f"/s/{share['token']}/").content.decode()
    assert "<h1>Trip</h1>" in page
    assert "Secret plans" not in page


@pytest.fixture
def token(api, conversation):
    return api.post(f"/api/conversations/{conversation.id}/shares/", {}, format="json").json()[
        "token"
    ]


@pytest.mark.parametrize("page", ["/s/{}/", "/api/shared/{}/"])
def test_share_pages_are_neither_cached_nor_indexed(anon, token, page):
    response = anon.get(page.format(token))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"


def test_the_share_page_asks_robots_not_to_index_it(anon, token):
    assert '<meta name="robots" content="noindex">' in anon.get(f"/s/{token}/").content.decode()


@pytest.mark.parametrize("page", ["/s/{}/", "/api/shared/{}/"])
def test_a_share_counts_each_visitor_once_and_not_the_owner_or_head(api, anon, token, page):
    url = page.format(token)

    def views():
        return api.get(f"/api/shares/{token}/").json()["view_count"]

    assert anon.head(url).status_code == 200
    assert api.get(url).status_code == 200  # the owner
    assert views() == 0
    anon.get(url)
    anon.get(url)
    assert views() == 1
    APIClient().get(url)  # someone else
    assert views() == 2


def show_image(message, attachment_id):
    ContentItem.objects.create(
        message=message, index=1, type="input_image", data={"file_id": attachment_id}
    )


def test_images_of_the_shared_messages_are_shown_to_the_links_visitors(
    api, anon, bob_api, conversation
):
    image = upload(api)
    image_id = image.json()["id"]
    unshared = upload(api, "other.png").json()["id"]
    theirs = upload(bob_api, "bob.png").json()["id"]
    question = conversation.messages.get(content__text="where to?")
    later = conversation.messages.get(content__text="when?")
    show_image(question, image_id)
    show_image(later, unshared)
    answer = conversation.messages.get(content__text="the sea")
    show_image(answer, theirs)  # as an import could name it
    token = api.post(
        f"/api/conversations/{conversation.id}/shares/",
        {"message_id": str(answer.id)},
        format="json",
    ).json()["token"]

    file_url = f"/s/{token}/files/{image_id}/"
    assert (
        f'<img class="attachment-thumb" src="{file_url}"'
        in anon.get(f"/s/{token}/").content.decode()
    )
    response = anon.get(file_url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    assert response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    for other in (unshared, theirs, "not-an-id"):
        assert anon.get(f"/s/{token}/files/{other}/").status_code == 404
    api.delete(f"/api/shares/{token}/")
    assert anon.get(file_url).status_code == 404


def test_my_links_are_listed_across_conversations_newest_first(
    api, bob_api, anon, conversation, alice, bob
):
    other = make_conversation(alice, title="Recipes")
    other.current_leaf = make_message(other, role="user", text="soup?")
    other.save()
    first = api.post(f"/api/conversations/{conversation.id}/shares/", {}, format="json").json()
    second = api.post(f"/api/conversations/{other.id}/shares/", {}, format="json").json()
    revoked = api.post(f"/api/conversations/{other.id}/shares/", {}, format="json").json()
    api.delete(f"/api/shares/{revoked['token']}/")
    expired = api.post(f"/api/conversations/{other.id}/shares/", {}, format="json").json()
    Share.objects.filter(token=expired["token"]).update(expires_at=timezone.now())

    body = api.get("/api/shares/").json()
    listed = [(share["token"], share["title"], share["active"]) for share in body["results"]]
    assert listed == [
        (expired["token"], "Recipes", False),
        (revoked["token"], "Recipes", False),
        (second["token"], "Recipes", True),
        (first["token"], "Trip", True),
    ]
    assert body["results"][-1]["url"] == first["url"]
    for key in ("view_count", "created_at", "conversation_id", "revoked_at", "expires_at"):
        assert key in body["results"][0]

    active = api.get("/api/shares/?active=1").json()["results"]
    assert [share["token"] for share in active] == [second["token"], first["token"]]
    assert bob_api.get("/api/shares/").json()["results"] == []
    assert anon.get("/api/shares/").status_code in (401, 403)


def test_my_links_come_a_page_at_a_time(api, conversation):
    for _ in range(3):
        api.post(f"/api/conversations/{conversation.id}/shares/", {}, format="json")
    page = api.get("/api/shares/?page_size=2").json()
    assert len(page["results"]) == 2
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None

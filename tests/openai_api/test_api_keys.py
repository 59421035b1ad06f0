import openai
import pytest
from django.test import Client

from conversations import services
from conversations.models import ApiKey


def test_a_key_is_created_shown_once_and_stored_hashed(api, alice):
    created = api.post("/api/keys/", {"name": "Open WebUI"}, format="json")

    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"])
    listed = api.get("/api/keys/").json()
    assert [k["name"] for k in listed] == ["Open WebUI"]
    assert "key" not in listed[0]
    stored = ApiKey.objects.get()
    assert stored.owner == alice
    assert key not in {stored.hashed_secret, stored.prefix, stored.name}


def test_a_key_needs_a_name(api):
    response = api.post("/api/keys/", {"name": ""}, format="json")

    assert response.status_code == 400


def test_another_users_key_is_a_404(api, bob_api):
    key_id = api.post("/api/keys/", {"name": "mine"}, format="json").json()["id"]

    assert bob_api.get(f"/api/keys/{key_id}/").status_code == 404
    assert bob_api.delete(f"/api/keys/{key_id}/").status_code == 404
    assert bob_api.get("/api/keys/").json() == []
    assert ApiKey.objects.get().revoked_at is None


def test_anonymous_people_have_no_keys(anon):
    assert anon.get("/api/keys/").status_code in (401, 403)


def test_a_key_works_until_it_is_revoked(fake_openai, api, sdk):
    created = api.post("/api/keys/", {"name": "script"}, format="json").json()
    client = sdk(created["key"])

    assert client.models.list().data[0].id == "fake-model"
    assert api.get("/api/keys/").json()[0]["last_used_at"] is not None

    revoked = api.delete(f"/api/keys/{created['id']}/")

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_staff_see_keys_in_admin_without_their_secrets(staff, alice):
    api_key, secret = services.api_key_create(owner=alice, name="Open WebUI")
    client = Client()
    client.force_login(staff)

    listing = client.get("/admin/conversations/apikey/").content.decode()
    detail = client.get(f"/admin/conversations/apikey/{api_key.id}/change/").content.decode()

    assert "Open WebUI" in listing
    assert api_key.prefix in listing
    for page in (listing, detail):
        assert secret not in page
        assert api_key.hashed_secret not in page

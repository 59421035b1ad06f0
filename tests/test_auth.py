from django.urls import reverse


def test_login_page_renders(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body
    assert "csrfmiddlewaretoken" in body


def test_chat_page_needs_a_login(client, db):
    response = client.get(reverse("chat"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_then_logout(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password"})
    assert response.status_code == 302
    assert client.get(reverse("chat")).status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get(reverse("chat")).status_code == 302


def test_wrong_password_says_so(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_static_files_are_served_with_debug_off(client, db, settings):
    assert settings.DEBUG is False
    response = client.get("/static/conversations/chat.css")
    assert response.status_code == 200

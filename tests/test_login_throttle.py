"""Failed logins lock the account, and the client address, for a while: on the login page
and on the admin's."""

import logging

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.conftest import free_port

LOCKED = "Too many failed attempts; try again in 15 minutes."


@pytest.fixture(autouse=True)
def no_failures_yet():
    cache.clear()
    yield
    cache.clear()


def log_in(client, username, password, url="/accounts/login/", address="127.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, alice, bob):
    for _ in range(5):
        response = log_in(client, "alice", "guess")
        assert "did not match" in response.content.decode()
    response = log_in(client, "alice", "alice-password")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert client.get(reverse("chat")).status_code == 302  # not logged in
    # Another account is not locked.
    assert log_in(client, "bob", "bob-password").status_code == 302


def test_the_admin_login_is_throttled_too(client, staff):
    for _ in range(5):
        log_in(client, "staff", "guess", url="/admin/login/")
    response = log_in(client, "staff", "staff-password", url="/admin/login/")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_failures_for_one_account_count_on_both_login_pages(client, staff):
    for url in ["/admin/login/", "/accounts/login/"] * 2 + ["/admin/login/"]:
        log_in(client, "staff", "guess", url=url)
    assert LOCKED in log_in(client, "staff", "staff-password").content.decode()


def test_a_login_clears_the_accounts_failures(client, alice):
    for _ in range(4):
        log_in(client, "alice", "guess")
    assert log_in(client, "alice", "alice-password").status_code == 302
    client.post("/accounts/logout/")
    for _ in range(4):
        log_in(client, "alice", "guess")
    assert log_in(client, "alice", "alice-password").status_code == 302


def test_many_failures_from_one_address_lock_it_for_every_account(client, alice, settings):
    settings.LOGIN_FAILURES_PER_IP = 3
    for name in ("carol", "dave", "erin"):
        log_in(client, name, "guess", address="127.0.0.5")
    response = log_in(client, "alice", "alice-password", address="127.0.0.5")
    assert LOCKED in response.content.decode()
    # From another address the account is fine: it had no failures itself.
    assert log_in(client, "alice", "alice-password", address="127.0.0.6").status_code == 302


def test_with_the_cache_down_logins_are_not_throttled(client, alice, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens there: every cache call fails at once.
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    with caplog.at_level(logging.WARNING):
        for _ in range(6):
            assert "did not match" in log_in(client, "alice", "guess").content.decode()
        assert log_in(client, "alice", "alice-password").status_code == 302
    assert "login throttle" in caplog.text

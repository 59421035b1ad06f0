import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from chatproject import settings as settings_module
from chatproject.settings import env_bool, env_int, local_secret_key


def test_without_secret_key_one_is_made_once_and_kept(tmp_path):
    path = tmp_path / ".secret_key"
    first = local_secret_key(path)
    assert len(first) >= 50
    assert local_secret_key(path) == first
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_bad_values_are_refused_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG")
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ImproperlyConfigured, match="PORT"):
        env_int("PORT", 8000)


PRODUCTION_SWITCHES = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
)


def settings_with(monkeypatch, **env) -> dict:
    """The settings module run afresh with `env` set: what a server started so would use."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(Path(settings_module.__file__)))


def test_defaults_suit_plain_http_on_localhost(monkeypatch):
    for name in PRODUCTION_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    loaded = settings_with(monkeypatch)
    assert loaded["SESSION_COOKIE_SECURE"] is False
    assert loaded["CSRF_COOKIE_SECURE"] is False
    assert loaded["SECURE_HSTS_SECONDS"] == 0
    assert loaded["SECURE_PROXY_SSL_HEADER"] is None
    assert loaded["SECURE_SSL_REDIRECT"] is False


def test_production_switches_reach_the_settings(monkeypatch):
    loaded = settings_with(
        monkeypatch,
        SESSION_COOKIE_SECURE="1",
        CSRF_COOKIE_SECURE="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
        SECURE_SSL_REDIRECT="1",
        CSRF_TRUSTED_ORIGINS="https://chat.example.com, https://*.example.org",
    )
    assert loaded["SESSION_COOKIE_SECURE"] is True
    assert loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["SECURE_HSTS_SECONDS"] == 31536000
    assert loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert loaded["SECURE_HSTS_PRELOAD"] is True
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["CSRF_TRUSTED_ORIGINS"] == ["https://chat.example.com", "https://*.example.org"]


def test_a_proxy_header_must_be_a_request_meta_name(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="SECURE_PROXY_SSL_HEADER"):
        settings_with(monkeypatch, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")


def test_an_unreachable_database_is_given_up_in_seconds(monkeypatch):
    database = settings_with(monkeypatch, DATABASE_URL="postgres://app@db.example:5432/chat")[
        "DATABASES"
    ]["default"]
    assert database["OPTIONS"]["connect_timeout"] == 5
    assert database["OPTIONS"]["pool"]["timeout"] == 10
    assert database["ENGINE"] == "chatproject.postgresql"  # which checks connections
    database = settings_with(
        monkeypatch, DATABASE_CONNECT_TIMEOUT="2", DATABASE_POOL_TIMEOUT="3.5"
    )["DATABASES"]["default"]
    assert database["OPTIONS"]["connect_timeout"] == 2
    assert database["OPTIONS"]["pool"]["timeout"] == 3.5

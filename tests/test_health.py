"""`/healthz` says the process serves; `/readyz` whether it can serve chat, and if not,
what failed. Neither needs a login, a known host name, a session or the database."""

import httpx
import pytest
from django.conf import settings

from tests.conftest import free_port
from tests.servers import server_process


def test_a_serving_process_is_healthy_and_ready(client, db):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    expected = {"database": "ok", **({"redis": "ok"} if settings.REDIS_URL else {})}
    assert ready.json() == {"status": "ok", "checks": expected}


def test_probes_by_address_get_no_cookie_redirect_or_policy(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.1.2.3")  # not in ALLOWED_HOSTS
        assert response.status_code == 200
        assert not response.cookies
        assert "Content-Security-Policy" not in response.headers


def test_without_redis_the_process_stays_ready_and_says_it_is_degraded(client, db, settings):
    # Chat works without Redis; every process shares it, so a 503 would stop them all.
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "failed"},
    }


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL, to point a server at one that is not there",
)
def test_without_the_database_the_process_is_healthy_but_not_ready(db):
    nowhere = f"postgres://postgres@127.0.0.1:{free_port()}/chatproject"
    with server_process(DATABASE_URL=nowhere, DATABASE_POOL_TIMEOUT="2") as (url, _process):
        health = httpx.get(f"{url}/healthz", timeout=20)
        ready = httpx.get(f"{url}/readyz", timeout=20)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["checks"]["database"] == "failed"

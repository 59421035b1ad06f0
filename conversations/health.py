"""`/healthz` and `/readyz`, for load balancers and orchestrators (README, "Production").

Answered by the first middleware, before the others: no host check (a probe may name
the server by its address), no https redirect, no session or CSRF cookie, no CSP.
"""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # whatever the backend raises when its server is away
        return False
    return True


def _redis_answers() -> bool:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
    )
    try:
        return client.ping()
    except redis.RedisError:
        return False
    finally:
        client.close()


def readiness() -> JsonResponse:
    """200 when the database (and Redis, when configured) answer; else 503, naming what
    failed."""
    checks = {"database": _database_answers()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_answers()
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
        },
        status=200 if ready else 503,
    )


class HealthMiddleware(MiddlewareMixin):
    """`/healthz`: the process serves (no database asked); `/readyz`: it can serve chat."""

    def process_request(self, request):
        if request.path_info == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path_info == "/readyz":
            return readiness()
        return None

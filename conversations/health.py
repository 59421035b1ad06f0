"""`/healthz` and `/readyz`, for load balancers and orchestrators (README, "Production").

Answered by the first middleware, before the others: no host check (a probe may name
the server by its address), no https redirect, no session or CSRF cookie, no CSP.
"""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin

from .inline_middleware import InlineMiddlewareMixin


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
    """200 when the database answers, else 503; each check named with its result. Redis
    down is `degraded`, still 200: chat goes on without it (limits counted per process,
    tabs hear only their own process), and Redis is shared, so a 503 would take every
    process out of service at once."""
    checks = {"database": _database_answers()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_answers()
    if not checks["database"]:
        status = "unavailable"
    else:
        status = "ok" if all(checks.values()) else "degraded"
    return JsonResponse(
        {
            "status": status,
            "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
        },
        status=503 if status == "unavailable" else 200,
    )


class HealthMiddleware(InlineMiddlewareMixin, MiddlewareMixin):
    """`/healthz`: the process serves (no database asked); `/readyz`: it can serve chat."""

    def blocks(self, request) -> bool:
        return request.path_info == "/readyz"

    def process_request(self, request):
        if request.path_info == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path_info == "/readyz":
            return readiness()
        return None

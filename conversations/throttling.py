"""How many replies a user may start: one limit for the REST API and the websocket.

The counts live in the cache: Redis in production, shared by every server process. Chat
must keep working when Redis is down, so while the cache fails each process counts on its
own (a user may then start the limit's worth in each process); the outage is logged when
it starts and when it ends, not at every request. A cache that stops answering is asked
again only a few seconds later: meanwhile the turns go on at once, not each after
REDIS_TIMEOUT.
"""

import logging

import redis
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import SimpleRateThrottle

from .errors import ConversationError
from .outages import Outage, Silence

logger = logging.getLogger(__name__)

# This process's counts, used while the shared cache fails.
_process_cache = LocMemCache("generation-throttle", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
_outage = Outage(
    logger,
    failed="The cache failed: replies started are counted per process until it is back.",
    back="The cache is back: replies started are counted in it again.",
)
_silence = Silence(retry_after=5.0)


class GenerationThrottle(SimpleRateThrottle):
    """Replies a user may start (continue, edit, reset): CHAT_GENERATION_RATE."""

    scope = "generation"

    def get_rate(self):
        return settings.CHAT_GENERATION_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        cache = settings.CACHES["default"].get("LOCATION")
        if not _silence.silent(cache):
            try:
                allowed = super().allow_request(request, view)
            except Exception as exc:  # whatever the cache backend raises when its server is away
                if isinstance(exc, redis.TimeoutError):
                    _silence.heard_nothing(cache)
                _outage.began()
            else:
                _outage.ended()
                return allowed
        self.cache = _process_cache
        return super().allow_request(request, view)


class Throttled(ConversationError):
    """Too many replies started: wait a little."""

    code = "throttled"
    status = 429


class _Asker:
    """What a throttle reads of a request: who asks."""

    def __init__(self, user):
        self.user = user


def check_generation_rate(user) -> None:
    """Count one reply started by `user` (outside DRF: the websocket); over the limit,
    raise Throttled saying how long to wait."""
    throttle = GenerationThrottle()
    if not throttle.allow_request(_Asker(user), None):
        wait = throttle.wait()
        raise Throttled(f"Too many replies started; try again in {int(wait or 1) + 1} seconds.")

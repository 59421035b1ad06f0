"""How many replies a user may start: one limit for the REST API and the websocket."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .errors import ConversationError


class GenerationThrottle(SimpleRateThrottle):
    """Replies a user may start (continue, edit, reset): CHAT_GENERATION_RATE."""

    scope = "generation"

    def get_rate(self):
        return settings.CHAT_GENERATION_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


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

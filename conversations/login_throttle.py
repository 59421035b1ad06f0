"""Failed logins, counted per account and per client address in Django's cache.

An account (or an address) with LOGIN_FAILURES_PER_ACCOUNT (LOGIN_FAILURES_PER_IP)
failures within LOGIN_FAILURE_WINDOW seconds of its first one is locked for that many
seconds, the right password included. A login clears its account's failures, not its
address's: one's own account must not wipe out guesses at others'.

The cache is Redis in production. Chat must keep working when Redis is down, so a failing
cache is logged and the login goes through unthrottled.
"""

import hashlib
import logging
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@contextmanager
def _unthrottled_if_the_cache_fails():
    try:
        yield
    except Exception:  # whatever the cache backend raises when its server is away
        logger.warning("The login throttle is off: the cache failed.", exc_info=True)


def _account_key(username: str) -> str:
    # Hashed: a username may hold characters a cache key may not.
    return "login-failures:account:" + hashlib.sha256(username.casefold().encode()).hexdigest()


def _limits(*, username: str, ip: str) -> list[tuple[str, int]]:
    """(cache key, failure limit) of the account and of the address; limit 0: none."""
    return [
        (_account_key(username), settings.LOGIN_FAILURES_PER_ACCOUNT),
        (f"login-failures:ip:{ip}", settings.LOGIN_FAILURES_PER_IP),
    ]


def login_wait(*, username: str, ip: str) -> float:
    """Seconds until `username` may try to log in from `ip` again; 0 when they may now."""
    with _unthrottled_if_the_cache_fails():
        keys = [f"{key}:locked" for key, _limit in _limits(username=username, ip=ip)]
        return max((until - time.time() for until in cache.get_many(keys).values()), default=0)
    return 0


def login_failure_record(*, username: str, ip: str) -> None:
    """Count a failed login; lock the account or the address that reaches its limit."""
    window = settings.LOGIN_FAILURE_WINDOW
    with _unthrottled_if_the_cache_fails():
        for key, limit in _limits(username=username, ip=ip):
            if not limit:
                continue
            # The count expires `window` seconds after the first failure it holds.
            cache.add(key, 0, timeout=window)
            if cache.incr(key) >= limit:
                cache.set(f"{key}:locked", time.time() + window, timeout=window)
                cache.delete(key)


def login_success_record(*, username: str) -> None:
    """A login went through: the account's failures so far are forgiven."""
    with _unthrottled_if_the_cache_fails():
        cache.delete(_account_key(username))

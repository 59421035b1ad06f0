"""API keys of the OpenAI-compatible API: create (the secret is returned once), revoke,
and note their use."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..errors import InvalidKeyName
from ..models import ApiKey
from ..serialization import storable

# Keys look like OpenAI's, so tools that check the shape of a key accept them.
KEY_PREFIX = "sk-chat-"
PREFIX_SHOWN = len(KEY_PREFIX) + 4
# `last_used_at` is written at most this often per key: not one write per request.
TOUCH_INTERVAL = timedelta(minutes=1)


def api_key_hash(secret: str) -> str:
    """The stored form of a key (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def api_key_create(*, owner, name: str) -> tuple[ApiKey, str]:
    """A new key of `owner` called `name`; returns it with its whole secret, which is
    never stored nor shown again."""
    name = storable(name or "").strip()
    if not name:
        raise InvalidKeyName("Give the key a name, to recognise it later.")
    limit = ApiKey._meta.get_field("name").max_length
    if len(name) > limit:
        raise InvalidKeyName(f"A key's name has at most {limit} characters.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        owner=owner, name=name, prefix=secret[:PREFIX_SHOWN], hashed_secret=api_key_hash(secret)
    )
    return api_key, secret


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key: it is refused from now on (revoking twice changes nothing)."""
    ApiKey.objects.filter(id=api_key.id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Note that the key was just used (at most once per TOUCH_INTERVAL)."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(id=api_key.id).update(last_used_at=now)
    api_key.last_used_at = now

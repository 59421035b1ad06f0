"""Token usage and daily quotas, read from the `TokenUsage` ledger that every reply adds
to when it ends (prompt + completion tokens). A turn is refused before it starts once the
user's last 24 hours reach their quota (`quota_check`, called where every reply is
created); the per-minute generation rate (`throttling`) is a separate limit."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from .errors import QuotaExceeded
from .models import TokenUsage, UserQuota

# A quota counts the tokens of a rolling window, not of a calendar day.
WINDOW = timedelta(hours=24)
# The usage figures' longer period.
MONTH = timedelta(days=30)
TOTAL = F("input_tokens") + F("output_tokens")


def daily_quota(user) -> int | None:
    """The quota of `user` (a user or its id) in tokens per 24 hours (None: unlimited):
    their own, set in the admin, else CHAT_DAILY_TOKEN_QUOTA."""
    if isinstance(user, AbstractBaseUser):
        # Loaded with the user when it was (a turn locks its conversation with both).
        own = getattr(user, "token_quota", None)
    else:
        own = UserQuota.objects.filter(user_id=user).first()
    if own is not None and own.unlimited:
        return None
    if own is not None and own.daily_tokens is not None:
        return own.daily_tokens
    return settings.CHAT_DAILY_TOKEN_QUOTA


def _resets_at(rows, used: int, quota: int) -> datetime | None:
    """When enough of the window's usage has aged out of it to be under `quota` again
    (None: never, a quota of 0)."""
    for created_at, tokens in rows.order_by("created_at").values_list("created_at", TOTAL):
        used -= tokens
        if used < quota:
            return created_at + WINDOW
    return None


def quota_state(user) -> dict:
    """`{"daily_tokens", "used", "remaining", "resets_at"}`: the user's quota (None:
    unlimited), their tokens of the last 24 hours, and, once they reach it, when a turn
    is allowed again."""
    quota = daily_quota(user)
    rows = TokenUsage.objects.filter(user=user, created_at__gt=timezone.now() - WINDOW)
    used = rows.aggregate(used=Coalesce(Sum(TOTAL), 0))["used"]
    exceeded = quota is not None and used >= quota
    return {
        "daily_tokens": quota,
        "used": used,
        "remaining": None if quota is None else max(quota - used, 0),
        "resets_at": _resets_at(rows, used, quota) if exceeded else None,
    }


def _wait_in_words(wait: timedelta) -> str:
    minutes = max(int(wait.total_seconds() + 59) // 60, 1)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def quota_check(user) -> None:
    """Refuse a turn (QuotaExceeded, with `resets_at`) when the user's tokens of the last
    24 hours have reached their quota."""
    if daily_quota(user) is None:
        return
    state = quota_state(user)
    if state["remaining"]:
        return
    quota, resets_at = state["daily_tokens"], state["resets_at"]
    if resets_at is None:
        detail = "Your token quota is 0, so no reply can be written: ask an administrator."
    else:
        wait = _wait_in_words(resets_at - timezone.now())
        detail = (
            f"You have used your daily quota of {quota:,} tokens; you can chat again in {wait}."
        )
    raise QuotaExceeded(
        detail,
        daily_tokens=quota,
        resets_at=resets_at.isoformat() if resets_at else None,
    )


def _totals(rows) -> dict:
    sums = rows.aggregate(
        input_tokens=Coalesce(Sum("input_tokens"), 0),
        output_tokens=Coalesce(Sum("output_tokens"), 0),
        reasoning_tokens=Coalesce(Sum("reasoning_tokens"), 0),
        replies=Count("id"),
    )
    return {**sums, "total_tokens": sums["input_tokens"] + sums["output_tokens"]}


def usage_summary(user) -> dict:
    """The user's usage (`GET /api/usage/`): today (since midnight, server time), the
    last 30 days, the last 30 days by model (most used first), and their quota."""
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = TokenUsage.objects.filter(user=user)
    month = rows.filter(created_at__gt=now - MONTH)
    models = month.values_list("model").annotate(total=Sum(TOTAL)).order_by("-total", "model")
    by_model = [{"model": model, **_totals(month.filter(model=model))} for model, _total in models]
    quota = quota_state(user)
    if quota["resets_at"] is not None:
        quota["resets_at"] = quota["resets_at"].isoformat()
    return {
        "today": _totals(rows.filter(created_at__gte=midnight)),
        "last_30_days": _totals(month),
        "by_model": by_model,
        "quota": quota,
    }


def usage_by_user(rows) -> list[dict]:
    """`rows` (TokenUsage, filtered as the caller likes) added up per user, most tokens
    first: `{"user_id", "username", "input_tokens", "output_tokens", "total_tokens",
    "replies"}`."""
    return list(
        rows.values("user_id", username=F("user__username"))
        .annotate(
            input_sum=Sum("input_tokens"),
            output_sum=Sum("output_tokens"),
            total_tokens=Sum(TOTAL),
            replies=Count("id"),
        )
        .values("user_id", "username", "input_sum", "output_sum", "total_tokens", "replies")
        .order_by("-total_tokens", "username")
    )

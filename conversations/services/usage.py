"""Token usage: the ledger entry a reply adds when it ends (quotas and usage figures
read it in `conversations.quotas`)."""

from ..models import Message, TokenUsage


def token_usage_record(*, reply: Message, user_id, usage: dict | None) -> TokenUsage | None:
    """Record what `reply` cost its conversation's owner (nothing when the provider told
    nothing). The row outlives the reply, so deleting it gives no tokens back."""
    if not usage:
        return None
    return TokenUsage.objects.create(
        user_id=user_id,
        message=reply,
        model=reply.model,
        input_tokens=max(int(usage.get("input_tokens") or 0), 0),
        output_tokens=max(int(usage.get("output_tokens") or 0), 0),
        reasoning_tokens=max(int(usage.get("reasoning_tokens") or 0), 0),
    )

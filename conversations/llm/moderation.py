"""Optional moderation of user input (`MODERATION=1`) through the moderations endpoint."""

import openai
from django.conf import settings

from .openai_client import provider_error


def moderate(text: str) -> dict | None:
    """Flags for `text`: ``{"flagged": bool, "categories": [names]}``; None when moderation
    is off or there is no text. Raises ProviderError when the endpoint fails."""
    if not settings.MODERATION or not text.strip():
        return None
    api = openai.OpenAI(
        api_key=settings.OPENAI_API_KEY or "no-key",
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=openai.Timeout(
            settings.LLM_FIRST_TOKEN_TIMEOUT, connect=settings.LLM_CONNECT_TIMEOUT
        ),
        max_retries=settings.LLM_MAX_RETRIES,
    )
    try:
        with api:
            result = api.moderations.create(model=settings.MODERATION_MODEL, input=text).results[0]
    except openai.OpenAIError as exc:
        raise provider_error(exc) from exc
    categories = result.categories.model_dump(by_alias=True)
    return {
        "flagged": result.flagged,
        "categories": sorted(name for name, hit in categories.items() if hit),
    }


def refuses(flags: dict | None) -> bool:
    """True when `flags` mean the input must be refused (`MODERATION_ACTION=refuse`)."""
    return bool(flags and flags["flagged"]) and settings.MODERATION_ACTION == "refuse"

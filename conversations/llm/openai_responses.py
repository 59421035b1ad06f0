"""The `openai-responses` provider: the Responses API, streamed and stateless.

We send the whole branch each time with `store=False`, so servers that keep no
state (Ollama, vLLM, llama.cpp) work as well as OpenAI.
"""

import openai
from django.conf import settings

from .adapters import as_dict
from .base import (
    Annotation,
    Finish,
    FunctionCallArgumentsDelta,
    FunctionCallDone,
    FunctionCallStart,
    Provider,
    ProviderError,
    ReasoningDelta,
    Refusal,
    TextDelta,
    Usage,
)
from .input import message_to_responses_input
from .openai_client import DEFAULT_MODEL, client, provider_error, upstream_error

# `incomplete_details.reason` -> our finish reason.
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _usage(response) -> Usage | None:
    usage = response.usage
    if usage is None:
        return None
    details = usage.output_tokens_details
    return Usage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        reasoning_tokens=(details and details.reasoning_tokens) or 0,
    )


class OpenAIResponsesProvider(Provider):
    name = "openai-responses"

    @classmethod
    def default_model(cls) -> str:
        return DEFAULT_MODEL

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        options = {"tools": list(tools)} if tools else {}
        call_ids: dict[str, str] = {}  # output item id -> call_id
        try:
            stream = client().responses.create(
                model=model or settings.LLM_MODEL,
                input=message_to_responses_input(messages, system_prompt=system_prompt),
                stream=True,
                store=False,
                **options,
            )
            # Closing the stream (its end, a cancel, a timeout) frees the connection for
            # the next reply on this client.
            async with await stream as events:
                async for event in events:
                    kind = event.type
                    if kind == "response.output_text.delta":
                        yield TextDelta(event.delta)
                    elif kind in (
                        "response.reasoning_summary_text.delta",
                        "response.reasoning_text.delta",  # raw reasoning of open models
                    ):
                        yield ReasoningDelta(event.delta)
                    elif kind == "response.reasoning_summary_part.added" and event.summary_index:
                        yield ReasoningDelta("\n\n")  # summary parts read as paragraphs
                    elif kind == "response.refusal.delta":
                        yield Refusal(event.delta)
                    elif kind == "response.output_text.annotation.added":
                        yield Annotation(as_dict(event.annotation))
                    elif (
                        kind == "response.output_item.added" and event.item.type == "function_call"
                    ):
                        call_ids[event.item.id or event.item.call_id] = event.item.call_id
                        yield FunctionCallStart(event.item.call_id, event.item.name)
                    elif kind == "response.function_call_arguments.delta":
                        yield FunctionCallArgumentsDelta(
                            call_ids.get(event.item_id, event.item_id), event.delta
                        )
                    elif kind == "response.output_item.done" and event.item.type == "function_call":
                        item = event.item
                        yield FunctionCallDone(item.call_id, item.name, item.arguments)
                    elif kind in ("response.completed", "response.incomplete"):
                        usage = _usage(event.response)
                        if usage is not None:
                            yield usage
                        details = event.response.incomplete_details
                        if details is not None:
                            yield Finish(_INCOMPLETE.get(details.reason, "length"))
                        else:
                            yield Finish("tool_calls" if call_ids else "stop")
                        return
                    elif kind == "response.failed":
                        error = event.response.error
                        raise upstream_error(
                            error.code if error else "",
                            error.message if error else "The response failed.",
                        )
                    elif kind == "error":
                        raise upstream_error(event.code or "", event.message)
        except openai.OpenAIError as exc:
            raise provider_error(exc) from exc
        raise ProviderError(
            "connection_lost", "The model server ended the stream before the reply was complete."
        )

"""The `openai-responses` provider: the Responses API, streamed and stateless.

We send the whole branch each time with `store=False`, so servers that keep no
state (Ollama, vLLM, llama.cpp) work as well as OpenAI.
"""

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
from .openai_client import DEFAULT_MODEL, json_events, upstream_error

# `incomplete_details.reason` -> our finish reason.
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _usage(response: dict) -> Usage | None:
    usage = response.get("usage")
    if not usage:
        return None
    details = usage.get("output_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("input_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        reasoning_tokens=details.get("reasoning_tokens") or 0,
    )


class OpenAIResponsesProvider(Provider):
    name = "openai-responses"

    @classmethod
    def default_model(cls) -> str:
        return DEFAULT_MODEL

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        options = {"tools": list(tools)} if tools else {}
        call_ids: dict[str, str] = {}  # output item id -> call_id
        body = {
            "model": model or settings.LLM_MODEL,
            "input": message_to_responses_input(messages, system_prompt=system_prompt),
            "stream": True,
            "store": False,
            **options,
        }
        async with json_events("/responses", body) as events:
            async for event in events:
                kind = event.get("type")
                item = event.get("item") or {}
                if kind == "response.output_text.delta":
                    yield TextDelta(event["delta"])
                elif kind in (
                    "response.reasoning_summary_text.delta",
                    "response.reasoning_text.delta",  # raw reasoning of open models
                ):
                    yield ReasoningDelta(event["delta"])
                elif kind == "response.reasoning_summary_part.added" and event.get("summary_index"):
                    yield ReasoningDelta("\n\n")  # summary parts read as paragraphs
                elif kind == "response.refusal.delta":
                    yield Refusal(event["delta"])
                elif kind == "response.output_text.annotation.added":
                    yield Annotation(as_dict(event.get("annotation")))
                elif kind == "response.output_item.added" and item.get("type") == "function_call":
                    call_ids[item.get("id") or item["call_id"]] = item["call_id"]
                    yield FunctionCallStart(item["call_id"], item.get("name") or "")
                elif kind == "response.function_call_arguments.delta":
                    item_id = event.get("item_id")
                    yield FunctionCallArgumentsDelta(call_ids.get(item_id, item_id), event["delta"])
                elif kind == "response.output_item.done" and item.get("type") == "function_call":
                    yield FunctionCallDone(
                        item["call_id"], item.get("name") or "", item.get("arguments") or ""
                    )
                elif kind in ("response.completed", "response.incomplete"):
                    response = event.get("response") or {}
                    usage = _usage(response)
                    if usage is not None:
                        yield usage
                    details = response.get("incomplete_details")
                    if details is not None:
                        yield Finish(_INCOMPLETE.get(details.get("reason"), "length"))
                    else:
                        yield Finish("tool_calls" if call_ids else "stop")
                    return
                elif kind == "response.failed":
                    error = (event.get("response") or {}).get("error") or {}
                    raise upstream_error(
                        error.get("code") or "", error.get("message") or "The response failed."
                    )
                elif kind == "error":
                    raise upstream_error(event.get("code") or "", event.get("message") or "")
        raise ProviderError(
            "connection_lost", "The model server ended the stream before the reply was complete."
        )

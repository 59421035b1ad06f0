"""The `openai` provider: Chat Completions, streamed, through the openai SDK."""

from django.conf import settings

from .base import (
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
from .input import message_to_chat_completion_input
from .openai_client import DEFAULT_MODEL, json_events


def chat_tool(spec: dict) -> dict:
    """A tool spec (Responses' flat shape) in Chat Completions' nested shape."""
    keys = ("name", "description", "parameters", "strict")
    function = {key: spec[key] for key in keys if key in spec}
    return {"type": "function", "function": function}


class OpenAIChatProvider(Provider):
    name = "openai"

    @classmethod
    def default_model(cls) -> str:
        return DEFAULT_MODEL

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        options = {"tools": [chat_tool(spec) for spec in tools]} if tools else {}
        calls: dict[int, dict] = {}  # tool-call deltas joined by their `index`
        finish = None
        body = {
            "model": model or settings.LLM_MODEL,
            "messages": message_to_chat_completion_input(messages, system_prompt=system_prompt),
            "stream": True,
            "stream_options": {"include_usage": True},
            **options,
        }
        async with json_events("/chat/completions", body) as chunks:
            async for chunk in chunks:
                if usage := chunk.get("usage"):
                    # The last chunk: usage only, with empty `choices`.
                    details = usage.get("completion_tokens_details") or {}
                    yield Usage(
                        input_tokens=usage.get("prompt_tokens") or 0,
                        output_tokens=usage.get("completion_tokens") or 0,
                        reasoning_tokens=details.get("reasoning_tokens") or 0,
                    )
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    # Reasoning as vLLM, Ollama and DeepSeek stream it (not in OpenAI's).
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if reasoning:
                        yield ReasoningDelta(reasoning)
                    if content := delta.get("content"):
                        yield TextDelta(content)
                    if refusal := delta.get("refusal"):
                        yield Refusal(refusal)
                    for position, call in enumerate(delta.get("tool_calls") or ()):
                        index = call.get("index")
                        index = position if index is None else index
                        function = call.get("function") or {}
                        joined = calls.get(index)
                        if joined is None:
                            joined = calls[index] = {
                                "id": call.get("id") or f"call_{index}",
                                "name": function.get("name") or "",
                                "arguments": "",
                            }
                            yield FunctionCallStart(joined["id"], joined["name"])
                        if function.get("name") and not joined["name"]:
                            joined["name"] = function["name"]
                        if arguments := function.get("arguments"):
                            joined["arguments"] += arguments
                            yield FunctionCallArgumentsDelta(joined["id"], arguments)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        if finish is None:
            raise ProviderError(
                "connection_lost",
                "The model server ended the stream before the reply was complete.",
            )
        # Calls are complete only once the stream ended normally (arguments may be cut).
        for joined in calls.values():
            yield FunctionCallDone(joined["id"], joined["name"], joined["arguments"])
        if finish == "content_filter":
            yield Refusal("The model server's content filter stopped this reply.")
        yield Finish(finish)

"""The `openai` provider: Chat Completions, streamed, through the openai SDK."""

import openai
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
from .openai_client import DEFAULT_MODEL, client, provider_error


def chat_tool(spec: dict) -> dict:
    """A tool spec (Responses' flat shape) in Chat Completions' nested shape."""
    function = {key: spec[key] for key in ("name", "description", "parameters") if key in spec}
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
        try:
            stream = client().chat.completions.create(
                model=model or settings.LLM_MODEL,
                messages=message_to_chat_completion_input(messages, system_prompt=system_prompt),
                stream=True,
                stream_options={"include_usage": True},
                **options,
            )
            # Closing the stream (its end, a cancel, a timeout) frees the connection for
            # the next reply on this client.
            async with await stream as chunks:
                async for chunk in chunks:
                    if chunk.usage is not None:
                        # The last chunk: usage only, with empty `choices`.
                        details = chunk.usage.completion_tokens_details
                        yield Usage(
                            input_tokens=chunk.usage.prompt_tokens or 0,
                            output_tokens=chunk.usage.completion_tokens or 0,
                            reasoning_tokens=(details and details.reasoning_tokens) or 0,
                        )
                    for choice in chunk.choices:
                        delta = choice.delta
                        # Reasoning as vLLM, Ollama and DeepSeek stream it (not in the SDK's type).
                        reasoning = getattr(delta, "reasoning_content", None) or getattr(
                            delta, "reasoning", None
                        )
                        if reasoning:
                            yield ReasoningDelta(reasoning)
                        if delta.content:
                            yield TextDelta(delta.content)
                        if delta.refusal:
                            yield Refusal(delta.refusal)
                        for position, call in enumerate(delta.tool_calls or []):
                            index = position if call.index is None else call.index
                            function = call.function
                            joined = calls.get(index)
                            if joined is None:
                                joined = calls[index] = {
                                    "id": call.id or f"call_{index}",
                                    "name": (function and function.name) or "",
                                    "arguments": "",
                                }
                                yield FunctionCallStart(joined["id"], joined["name"])
                            if function and function.name and not joined["name"]:
                                joined["name"] = function.name
                            if function and function.arguments:
                                joined["arguments"] += function.arguments
                                yield FunctionCallArgumentsDelta(joined["id"], function.arguments)
                        if choice.finish_reason:
                            finish = choice.finish_reason
        except openai.OpenAIError as exc:
            raise provider_error(exc) from exc
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

from conversations.llm import get_provider, reply_events
from conversations.llm.accumulate import ReplyAccumulator
from conversations.llm.base import ProviderError


def user(text, references=()):
    return {
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": text}],
        "references": list(references),
    }


async def run(messages, *, provider=None, **kwargs):
    """(reply, events, error): the reply as far as it got, and the ProviderError if any."""
    reply = ReplyAccumulator()
    events = []
    error = None
    try:
        async for event in reply_events(messages, provider=provider or get_provider(), **kwargs):
            events.append(event)
            reply.apply(event)
    except ProviderError as exc:
        error = exc
    return reply, events, error

"""The model boundary: a provider turns a conversation path into a stream of events.

Messages going in are dicts in our API shape (DESIGN §3):
``{"role": "user", "content": [{"type": "input_text", "text": "..."}, ...],
"references": [{"type": "text", "name": "...", "url": "...", "content": "..."}]}``.
Events coming out are the small dataclasses below, whatever the wire format.
"""

from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field

# While a provider streams the model's reply, the connection it reads it from (with
# `pause_reading`, `resume_reading` and `hold(seconds)`), or None: the runner pauses it
# until the next frame is due, so the deltas that come meanwhile wait in the socket and
# are read in one go (`generation.ReplyRunner.on_delta` and `flush`).
upstream_reading: ContextVar = ContextVar("upstream_reading", default=None)


class ProviderError(Exception):
    """A reply could not be produced (or finished); `code` is stable and shown to users."""

    def __init__(
        self, code: str, detail: str = "", *, status: int | None = None, retryable: bool = False
    ):
        super().__init__(detail or code)
        self.code = code
        self.detail = detail or code
        self.status = status
        self.retryable = retryable

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.detail}
        if self.status is not None:
            error["status"] = self.status
        return error


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class FunctionCallStart:
    call_id: str
    name: str
    server: str = ""  # the MCP server whose tool it is, if any


@dataclass(frozen=True)
class FunctionCallArgumentsDelta:
    call_id: str
    delta: str


@dataclass(frozen=True)
class FunctionCallDone:
    call_id: str
    name: str
    arguments: str
    server: str = ""


@dataclass(frozen=True)
class FunctionCallOutput:
    """The result of a server-side tool, produced by the tool loop, not by a provider."""

    call_id: str
    output: str
    server: str = ""  # the MCP server that ran it, if any
    is_error: bool = False  # the tool failed: `output` says why, the card shows it failed


@dataclass(frozen=True)
class Refusal:
    text: str


@dataclass(frozen=True)
class Annotation:
    annotation: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Finish:
    """The provider ended normally: ``stop``, ``length`` (cut short), ``content_filter``
    or ``tool_calls``."""

    reason: str


Event = (
    TextDelta
    | ReasoningDelta
    | FunctionCallStart
    | FunctionCallArgumentsDelta
    | FunctionCallDone
    | FunctionCallOutput
    | Refusal
    | Annotation
    | Usage
    | Finish
)


class Provider:
    """One way of talking to a model. Subclasses implement `stream`."""

    name = ""

    @classmethod
    def default_model(cls) -> str:
        """The model a reply is written by when neither its conversation nor LLM_MODEL
        names one."""
        raise NotImplementedError

    def stream(
        self,
        messages: list[dict],
        *,
        system_prompt: str = "",
        model: str = "",
        tools: list[dict] | None = None,
    ) -> AsyncIterator[Event]:
        """Yield events for one model turn; raise ProviderError when it fails.

        `tools` are function specs in the Responses shape
        (``{"type": "function", "name", "description", "parameters"}``); the provider
        yields the calls, `reply_events` runs them.
        """
        raise NotImplementedError

"""Domain errors raised by services, and their one mapping to API errors.

Each error has a stable `code` (shown to clients of the REST API and of the
websocket alike) and a message a person can act on. `http_status` and
`error_body` (with `validation_error_body` for invalid request fields) are the
only places that turn them into responses; the websocket sends the same body as
an `error` frame.
"""

from django.http import Http404


class ConversationError(Exception):
    """Base of the errors services raise on purpose."""

    code = "invalid"
    status = 400

    def __init__(self, detail: str = "", **extra):
        super().__init__(detail or self.__doc__)
        self.detail = detail or (self.__doc__ or self.code).strip()
        self.extra = extra


class InvalidContent(ConversationError):
    """The message content is not valid."""

    code = "invalid_content"


class EmptyContent(ConversationError):
    """The message is empty: send some text, an image or a file."""

    code = "empty_content"


class ContentTooLong(ConversationError):
    """The message is too long."""

    code = "content_too_long"


class TooManyReferences(ConversationError):
    """Too many references on one message."""

    code = "too_many_references"


class TooManyAttachments(ConversationError):
    """Too many attachments on one message."""

    code = "too_many_attachments"


class InvalidAttachment(ConversationError):
    """An attachment id does not name one of your uploads."""

    code = "invalid_attachment"


class TooLarge(ConversationError):
    """The request is larger than the server accepts."""

    code = "too_large"
    status = 413


class InvalidParent(ConversationError):
    """The parent message is not in this conversation."""

    code = "invalid_parent"


class NotEditable(ConversationError):
    """Only user messages can be edited."""

    code = "not_editable"


class NotResettable(ConversationError):
    """Only a reply can be regenerated, or a question left without one answered again."""

    code = "not_resettable"


class InvalidFeedback(ConversationError):
    """The feedback is not valid."""

    code = "invalid_feedback"


class GenerationBusy(ConversationError):
    """A reply is already being written and the queue is full: wait for it to finish."""

    code = "generation_busy"
    status = 409


class NotRunning(ConversationError):
    """The reply is not queued or running, so there is nothing to cancel."""

    code = "not_running"
    status = 409


class InvalidIdempotencyKey(ConversationError):
    """The Idempotency-Key header must be 1 to 200 printable characters."""

    code = "invalid_idempotency_key"


class InvalidShare(ConversationError):
    """The share request is not valid."""

    code = "invalid_share"


class InvalidImport(ConversationError):
    """The file is not a conversation export this server can read."""

    code = "invalid_import"


class ContentFlagged(ConversationError):
    """Moderation flagged this message, so it was not sent."""

    code = "content_flagged"


class ModerationUnavailable(ConversationError):
    """Messages are checked by moderation first, and the check failed: try again shortly."""

    code = "moderation_unavailable"
    status = 503


class InvalidModel(ConversationError):
    """That model is not offered here: choose one GET /api/models/ lists."""

    code = "invalid_model"


class QuotaExceeded(ConversationError):
    """You have used your daily token quota; it resets as your oldest usage turns 24 hours old."""

    code = "quota_exceeded"
    status = 429


class InvalidKeyName(ConversationError):
    """An API key needs a name of at most 100 characters."""

    code = "invalid_key_name"


class InvalidMcpServer(ConversationError):
    """The MCP server's settings are not valid."""

    code = "invalid_mcp_server"


class DatabaseUnavailable(ConversationError):
    """The database is not answering: try again shortly."""

    code = "database_unavailable"
    status = 503


class ServerFailed(ConversationError):
    """The server failed to answer (the error is logged); try again."""

    code = "internal_error"
    status = 500


def http_status(exc: Exception) -> int:
    """The HTTP status of a domain error (or of Http404)."""
    if isinstance(exc, Http404):
        return 404
    return getattr(exc, "status", 400)


def error_body(exc: Exception) -> dict:
    """`{"code", "detail", ...}`: the JSON body of an API error and of a websocket error frame."""
    if isinstance(exc, Http404):
        return {"code": "not_found", "detail": str(exc) or "Not found."}
    return {"code": exc.code, "detail": exc.detail, **exc.extra}


def first_error_message(data, prefix: str = "") -> str:
    """`field: message` of the first error in DRF's nested error data."""
    if isinstance(data, dict):
        for key, value in data.items():
            name = key if key == "non_field_errors" else f"{prefix}{key}"
            found = first_error_message(value, f"{name}." if key != "non_field_errors" else prefix)
            if found:
                return found if key == "non_field_errors" or ": " in found else f"{name}: {found}"
        return ""
    if isinstance(data, list):
        for value in data:
            found = first_error_message(value, prefix)
            if found:
                return found
        return ""
    return str(data)


def validation_error_body(detail) -> dict:
    """The error body of invalid input, from DRF's nested error data."""
    return {
        "code": "invalid",
        "detail": first_error_message(detail) or "Invalid input.",
        "fields": detail,
    }

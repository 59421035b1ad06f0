"""Every /v1/ error as OpenAI's `{"error": {"message", "type", "param", "code"}}` with its
status: domain errors (`conversations.errors`), DRF's, and replies that failed."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from .. import openai_wire
from ..errors import ConversationError, first_error_message
from ..serialization import storable

# The status of a whole (not streamed) completion whose reply failed, by its error code.
REPLY_STATUSES = {
    "rate_limited": 429,
    "context_length": 400,
    "content_filter": 400,
    "timeout": 504,
    "interrupted": 503,
    "auth_failed": 502,
    "upstream_error": 502,
    "connection_lost": 502,
}


def _first_field(detail, prefix: str = "") -> str | None:
    """The dotted name of the first invalid field in DRF's nested error data."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                return prefix.rstrip(".") or None
            return _first_field(value, f"{prefix}{key}.")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict | list):
        return _first_field(detail[0], prefix)
    return prefix.rstrip(".") or None


def error_response(message: str, *, status: int, param=None, code=None) -> Response:
    # Messages may quote the input, and a lone surrogate in it cannot be sent as UTF-8.
    body = openai_wire.error(storable(message), status=status, param=param, code=code)
    return Response(body, status=status)


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER for the /v1/ views."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(f"The body is over {limit} bytes.", status=413, code="too_large")
    if isinstance(exc, Http404):
        return error_response(str(exc) or "Not found.", status=404, code="not_found")
    if isinstance(exc, ConversationError):
        param = exc.extra.get("param")
        return error_response(exc.detail, status=exc.status, param=param, code=exc.code)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message = (
            "You didn't provide an API key: send 'Authorization: Bearer <key>' (make a key "
            "on the API keys page)."
            if isinstance(exc, exceptions.NotAuthenticated)
            else str(exc.detail)
        )
        response = error_response(message, status=401, code="invalid_api_key")
        response["WWW-Authenticate"] = "Bearer"
        return response
    if isinstance(exc, exceptions.ValidationError):
        return error_response(
            first_error_message(exc.detail) or "Invalid request.",
            status=400,
            param=_first_field(exc.detail),
            code="invalid_value",
        )
    if isinstance(exc, exceptions.ParseError):
        return error_response(f"The body is not valid JSON: {exc.detail}", status=400)
    if isinstance(exc, exceptions.Throttled):
        return error_response(str(exc.detail), status=429, code="rate_limit_exceeded")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        return error_response(
            str(exc.detail),
            status=exc.status_code,
            code=codes if isinstance(codes, str) else None,
        )
    return None


def reply_error_response(reply: dict) -> Response:
    """The error answer of a whole completion whose reply failed (produced nothing)."""
    error = reply.get("error") or {}
    code = error.get("code") or "upstream_error"
    status = REPLY_STATUSES.get(code, 500)
    return error_response(error.get("message") or "The reply failed.", status=status, code=code)

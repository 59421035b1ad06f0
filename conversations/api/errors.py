"""Every API error is JSON `{"code", "detail"}` (plus `fields` for invalid input)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import (
    ConversationError,
    TooLarge,
    error_body,
    http_status,
    validation_error_body,
)
from ..serialization import storable


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = TooLarge(f"The request body is over the {limit} bytes the server reads.")
    if isinstance(exc, ConversationError | Http404):
        return Response(error_body(exc), status=http_status(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = validation_error_body(response.data)
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"code": "malformed_json", "detail": f"The body is not valid JSON: {exc}"}
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "detail": str(exc.detail),
        }
    # Messages may quote the input, and a lone surrogate in it cannot be sent as UTF-8.
    response.data = storable(response.data)
    return response

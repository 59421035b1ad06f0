"""Request shapes shared by the REST API and the websocket: the same JSON limits, fields,
defaults and error bodies whichever way a message arrives."""

import json
import math

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

# Far deeper than any content, context or tool schema; deeper JSON would exhaust Python's
# recursion limit in the code that copies, checks and stores it.
MAX_JSON_DEPTH = 100
# Numbers the database and the channel layer (msgpack) can carry: 64-bit integers and
# finite floats.
INT_RANGE = range(-(2**63), 2**64)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"Number {text} is out of range")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if value not in INT_RANGE:
        raise ValueError(f"Number {text[:30]} is out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _depth(value) -> int:
    """How deeply lists and objects nest in `value`, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in value)
    return deepest


def parse_json(text: str | bytes):
    """A request body or a websocket frame as Python data; ValueError when it is not JSON
    or holds what cannot be stored (deep nesting, NaN and Infinity, numbers out of range)."""
    too_deep = f"JSON may nest at most {MAX_JSON_DEPTH} levels deep"
    try:
        data = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int64
        )
    except RecursionError:
        raise ValueError(too_deep) from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise ValueError(too_deep)
    return data


class TextField(serializers.CharField):
    """A CharField that lets U+0000 and lone surrogates through: text a person writes is
    kept, and services store those code points as U+FFFD (`serialization.storable`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator
            )
        ]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        ],
        "description": "Text, or a list of content items (input_text, input_image, input_file).",
    }
)
class ContentField(serializers.JSONField):
    pass


def model_field():
    return serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="A model id from GET /api/models/ (kept as the conversation's); "
        "default: the conversation's model",
    )


class ContinueSerializer(serializers.Serializer):
    content = ContentField()
    model = model_field()
    parent_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Default: the current leaf"
    )
    references = serializers.ListField(
        child=serializers.JSONField(), required=False, allow_null=True
    )
    attachments = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, help_text="Attachment ids"
    )
    stream = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Answer with Server-Sent Events (as does Accept: text/event-stream)",
    )


class EditSerializer(serializers.Serializer):
    content = ContentField()
    references = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        allow_null=True,
        help_text="Default: the edited message's references",
    )
    attachments = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    model = model_field()


class ResetSerializer(serializers.Serializer):
    model = model_field()


# Websocket frames (the protocol is in the README's "Streaming" section).


class MessageIdSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()


class ResetFrameSerializer(ResetSerializer, MessageIdSerializer):
    pass


class SyncSerializer(MessageIdSerializer):
    after_seq = serializers.IntegerField(min_value=0, required=False, default=0)


class CreateFrameSerializer(ContinueSerializer):
    idempotency_key = serializers.CharField(required=False, default="", allow_blank=True)


class EditFrameSerializer(EditSerializer, MessageIdSerializer):
    idempotency_key = serializers.CharField(required=False, default="", allow_blank=True)


def validated(serializer_class, data: dict) -> dict:
    """`data` checked by `serializer_class`; raises DRF's ValidationError when invalid."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

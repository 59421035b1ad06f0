"""Request shapes shared by the REST API and the websocket: the same fields, defaults and
error bodies whichever way a message arrives."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


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


class ContinueSerializer(serializers.Serializer):
    content = ContentField()
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


# Websocket frames (the protocol is in the README's "Streaming" section).


class MessageIdSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()


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

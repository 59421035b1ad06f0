"""Request shapes of the REST API (those the websocket shares are in `conversations.inputs`)
and response shapes (documented here; the data itself comes from `selectors` so the API,
the websocket and the model see the same message dicts)."""

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..inputs import ContentField, TextField
from ..models import Conversation, Message
from ..selectors import BRANCH_PAGE_SIZE, MAX_BRANCH_PAGE_SIZE


@extend_schema_field(
    {
        "type": "object",
        "description": "A content item in the OpenAI Responses vocabulary, e.g. "
        '{"type": "input_text", "text": "..."} or {"type": "input_image", "file_id": "..."}.',
        "properties": {"type": {"type": "string"}},
        "required": ["type"],
        "additionalProperties": True,
    }
)
class ContentItemField(serializers.JSONField):
    pass


class ReferenceSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, default="text")
    name = serializers.CharField(required=False, allow_blank=True, default="")
    url = serializers.CharField(required=False, allow_blank=True, default="")
    content = serializers.CharField(required=False, allow_blank=True, default="")


class FeedbackSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=["good", "bad"])
    comment = TextField(required=False, allow_blank=True, default="")
    reasons = serializers.ListField(child=TextField(), required=False, default=list, max_length=20)
    updated_at = serializers.DateTimeField(read_only=True)


class MessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    parent_id = serializers.UUIDField(allow_null=True)
    role = serializers.ChoiceField(choices=Message.Role.choices)
    status = serializers.ChoiceField(choices=Message.Status.choices)
    model = serializers.CharField()
    content = serializers.ListField(child=ContentItemField())
    references = ReferenceSerializer(many=True)
    error = serializers.JSONField(allow_null=True, help_text='{"code", "message"} or null')
    usage = serializers.JSONField(
        allow_null=True, help_text="input_tokens, output_tokens, reasoning_tokens"
    )
    flags = serializers.JSONField(allow_null=True)
    feedback = FeedbackSerializer(allow_null=True, help_text="The requesting user's rating")
    sibling_ids = serializers.ListField(
        child=serializers.UUIDField(), help_text="This message and its siblings, oldest first"
    )
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class MessageListSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)


class PageLimitSerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_BRANCH_PAGE_SIZE,
        default=BRANCH_PAGE_SIZE,
        help_text="How many messages of the current branch: its last ones",
    )


class BranchPageQuerySerializer(PageLimitSerializer):
    before = TextField(
        required=False,
        help_text="A message id (the first message of the page you have): the page is the "
        "`limit` messages above it on its path from the root",
    )


class BranchPageSerializer(MessageListSerializer):
    has_more = serializers.BooleanField(
        help_text="Earlier messages exist: ask for them with `before` = the first message's id"
    )


class ConversationSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: TextField,
        models.TextField: TextField,
    }
    current_leaf_id = serializers.UUIDField(read_only=True, allow_null=True)
    tools = serializers.ListField(child=serializers.DictField(), required=False)
    context = serializers.DictField(
        required=False, help_text="Merged shallowly on update; a key set to null is removed."
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "title",
            "system_prompt",
            "model",
            "tools",
            "context",
            "archived",
            "current_leaf_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class FirstMessageSerializer(serializers.Serializer):
    content = ContentField()
    references = serializers.ListField(
        child=serializers.JSONField(), required=False, allow_null=True
    )
    attachments = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, help_text="Attachment ids"
    )


class ConversationCreateSerializer(ConversationSerializer):
    message = FirstMessageSerializer(
        required=False,
        write_only=True,
        help_text="A first message: the conversation is created only if it is accepted, "
        "and its reply starts at once (follow it on the websocket).",
    )

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "message"]


class MarkdownSerializer(serializers.Serializer):
    text = TextField(allow_blank=True, trim_whitespace=False, max_length=1_000_000)


class RenderedSerializer(serializers.Serializer):
    html = serializers.CharField(help_text="Sanitized HTML, as in a message's `html`")


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(
        many=True,
        read_only=True,
        help_text="The last page of the current branch (`limit` messages), oldest first",
    )
    has_more = serializers.BooleanField(
        read_only=True,
        help_text="The branch goes on above `messages`: GET `branch/?before=<messages[0].id>`",
    )
    hints = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Suggested first prompts"
    )

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages", "has_more", "hints"]


class BranchSerializer(serializers.Serializer):
    message_id = serializers.UUIDField(help_text="Show the newest branch through this message")


class ShareCreateSerializer(serializers.Serializer):
    message_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Last message shared; default: current leaf"
    )
    selected = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        allow_null=True,
        help_text="Share only these messages of the branch",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ShareSerializer(serializers.Serializer):
    token = serializers.CharField()
    conversation_id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    title = serializers.CharField(help_text="The conversation's title when shared")
    selected = serializers.ListField(child=serializers.UUIDField(), allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    view_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    active = serializers.BooleanField()
    url = serializers.URLField(help_text="The public read-only page")
    api_url = serializers.URLField(help_text="The same snapshot as JSON")


class SharedMessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.CharField()
    status = serializers.CharField()
    model = serializers.CharField()
    content = serializers.ListField(child=ContentItemField())
    references = ReferenceSerializer(many=True)
    created_at = serializers.DateTimeField()


class SharedSerializer(serializers.Serializer):
    title = serializers.CharField()
    shared_at = serializers.DateTimeField()
    messages = SharedMessageSerializer(many=True)


class ExportSerializer(serializers.Serializer):
    format = serializers.CharField(help_text='"chatproject.conversation"')
    version = serializers.IntegerField()
    exported_at = serializers.DateTimeField(read_only=True)
    conversation = serializers.DictField()
    messages = serializers.ListField(child=serializers.DictField())


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class ApiKeyCreateSerializer(serializers.Serializer):
    name = TextField(max_length=100)


class ApiKeySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The whole key: shown this once, never again.")


class ModelChoiceSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Send it as `model` on continue, edit or reset")
    name = serializers.CharField(help_text="The name to show")


class ModelChoicesSerializer(serializers.Serializer):
    models = ModelChoiceSerializer(many=True)
    default = serializers.CharField(help_text="The model of conversations that chose none")


class TokenTotalsSerializer(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField(help_text="Counted in output_tokens")
    total_tokens = serializers.IntegerField(help_text="input + output")
    replies = serializers.IntegerField()


class ModelUsageSerializer(TokenTotalsSerializer):
    model = serializers.CharField()


class QuotaSerializer(serializers.Serializer):
    daily_tokens = serializers.IntegerField(
        allow_null=True, help_text="Tokens allowed in any 24 hours; null: no quota"
    )
    used = serializers.IntegerField(help_text="Tokens of the last 24 hours")
    remaining = serializers.IntegerField(allow_null=True)
    resets_at = serializers.DateTimeField(
        allow_null=True, help_text="Once the quota is reached: when a turn is allowed again"
    )


class UsageSerializer(serializers.Serializer):
    today = TokenTotalsSerializer(help_text="Since midnight, server time")
    last_30_days = TokenTotalsSerializer()
    by_model = ModelUsageSerializer(many=True, help_text="The last 30 days, most used first")
    quota = QuotaSerializer()

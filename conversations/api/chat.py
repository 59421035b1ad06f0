"""`/api/chat`: the AI SDK's chat routes (`useChat` with `DefaultChatTransport`), thin like
the REST API's views: they check the request's shape, call `services.chat_submit` or a
selector, and answer the UI message stream (`aisdk_wire`). Session auth (CSRF enforced) or
`Authorization: Token <key>`; errors as the REST API's; another user's chat is a 404."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import aisdk_wire, selectors, services
from ..serialization import conversation_to_dict
from ..services.ui_chat import TRIGGERS
from ..throttling import GenerationThrottle
from . import streaming


class ChatRequestSerializer(serializers.Serializer):
    """What `DefaultChatTransport` sends, and `model` (the picker's, sent through its
    `body` option); other fields are ignored. The AI SDK's persistence docs send only the
    last message, `{id, message}`: that is a `submit-message` of it."""

    id = serializers.RegexField(selectors.CHAT_ID, max_length=200)
    messages = serializers.ListField(
        child=serializers.JSONField(), allow_empty=False, required=False
    )
    message = serializers.JSONField(required=False)
    trigger = serializers.ChoiceField(choices=TRIGGERS, default="submit-message")
    messageId = serializers.CharField(  # the client's spelling
        required=False, allow_null=True, allow_blank=True, max_length=200
    )
    model = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate(self, data):
        if "messages" not in data:
            if "message" not in data:
                raise serializers.ValidationError({"messages": "Send messages (or message)."})
            data["messages"] = [data["message"]]
        return data


@extend_schema(tags=["chat"])
class ChatView(APIView):
    """POST /api/chat: submit a message (`submit-message`; with `messageId`, an edit) or
    regenerate a reply (`regenerate-message`); answers the reply as a UI message stream
    (`text/event-stream`), from `start`, whose `messageId` is the stored reply's id."""

    throttle_classes = [GenerationThrottle]

    @extend_schema(
        request=ChatRequestSerializer, responses={(200, "text/event-stream"): OpenApiTypes.STR}
    )
    def post(self, request):
        serializer = ChatRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        conversation, reply, created = services.chat_submit(
            owner=request.user,
            chat_id=data["id"],
            messages=data["messages"],
            trigger=data["trigger"],
            message_id=data.get("messageId") or None,
            model=data["model"],
        )
        return streaming.ui_message_stream(conversation=conversation, reply=reply, created=created)


@extend_schema(tags=["chat"])
class ChatDetailView(APIView):
    """GET /api/chat/<id>: the chat's shown branch as UIMessages (`useChat`'s initial
    `messages`), with the conversation it is."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, chat_id):
        conversation = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
        branch = selectors.conversation_branch(conversation=conversation)
        messages = selectors.message_dicts_for_user(user=request.user, messages=branch)
        file_ids = [
            item["file_id"]
            for message in messages
            for item in message["content"]
            if item.get("file_id")
        ]
        files = {
            str(upload.id): {
                "mediaType": upload.content_type,
                "filename": upload.name,
                "url": request.build_absolute_uri(reverse("api:attachment", args=[upload.id])),
            }
            for upload in selectors.attachment_list_for_user(user=request.user, ids=file_ids)
        }
        return Response(
            {
                "id": chat_id,
                "conversation": conversation_to_dict(conversation),
                "messages": aisdk_wire.ui_messages(messages, files=files),
            }
        )


@extend_schema(tags=["chat"])
class ChatStreamView(APIView):
    """GET /api/chat/<id>/stream: the reply being written, replayed from its `start` and
    then live (what `resumeStream()` asks for); 204 when none is."""

    @extend_schema(responses={(200, "text/event-stream"): OpenApiTypes.STR, 204: None})
    def get(self, request, chat_id):
        conversation = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
        reply = selectors.chat_running_reply(conversation=conversation)
        if reply is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return streaming.ui_message_stream(conversation=conversation, reply=reply, created=False)

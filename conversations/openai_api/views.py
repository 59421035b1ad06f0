"""The /v1/ views: thin, they check the request's shape, call a service or selector, and
answer in OpenAI's formats (`openai_wire`, `responses_wire`); errors in OpenAI's shape
(`errors`). Replies start through `generation.reply_start` and belong to the server, not
to the request."""

import functools

from asgiref.sync import async_to_sync
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import generation, openai_wire, responses_wire, selectors, services
from ..db import release_connection
from ..errors import InvalidContent
from ..llm.catalog import requested_model
from ..llm.tools import CLIENT_TOOLS
from ..model_choices import offered_models
from ..models import Message
from ..serialization import conversation_to_dict
from ..throttling import GenerationThrottle
from . import errors, streaming
from .auth import BearerKeyAuthentication


class OpenAIView(APIView):
    """Bearer keys only (no session, so no CSRF), OpenAI's error shape."""

    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [IsAuthenticated]

    def get_exception_handler(self):
        return errors.exception_handler


def _models() -> list[dict]:
    """The models requests may name: the picker's, in its order."""
    return [
        openai_wire.model(m["id"], created=m["created"], owned_by=m["owned_by"])
        for m in offered_models()
    ]


@extend_schema(exclude=True)
class ModelListView(OpenAIView):
    """The models requests may name."""

    def get(self, request):
        return Response(openai_wire.model_list(_models()))


@extend_schema(exclude=True)
class ModelDetailView(OpenAIView):
    def get(self, request, model_id):
        for model in _models():
            if model["id"] == model_id:
                return Response(model)
        raise Http404(f"The model '{model_id}' does not exist.")


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(required=False, default=False)


class MetadataSerializer(serializers.Serializer):
    conversation_id = serializers.CharField(required=False)


class ChatCompletionSerializer(serializers.Serializer):
    """The fields this server reads; any other is accepted and ignored."""

    messages = serializers.ListField(child=serializers.JSONField(), allow_empty=False)
    model = serializers.CharField(required=False, allow_blank=True, default="")
    stream = serializers.BooleanField(required=False, allow_null=True, default=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    store = serializers.BooleanField(required=False, allow_null=True, default=True)
    metadata = MetadataSerializer(required=False, allow_null=True)
    tools = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)


@extend_schema(exclude=True)
class ChatCompletionsView(OpenAIView):
    """POST /v1/chat/completions: stored as a conversation (unless `store` is false);
    `metadata.conversation_id` continues one."""

    throttle_classes = [GenerationThrottle]

    def post(self, request):
        serializer = ChatCompletionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = data["store"] is not False
        conversation_id = (data.get("metadata") or {}).get("conversation_id")
        conversation = None
        if conversation_id:
            if not store:
                raise InvalidContent(
                    "store: false keeps nothing, so it cannot continue a stored conversation.",
                    param="store",
                )
            conversation = selectors.conversation_get_for_user(
                user=request.user, id=conversation_id
            )
        conversation, reply = services.chat_completion_start(
            owner=request.user,
            messages=data["messages"],
            model=requested_model(data["model"]),
            tools=data.get("tools"),
            conversation=conversation,
            store=store,
        )

        if data["stream"]:
            return streaming.completion_stream(
                conversation=conversation,
                reply=reply,
                include_usage=bool((data.get("stream_options") or {}).get("include_usage")),
                discard=_discard(conversation, store=store),
            )
        answer = _run_whole(request.user, conversation, reply, store=store)
        if answer["status"] == Message.Status.FAILED:
            return errors.reply_error_response(answer)
        body = openai_wire.completion(
            answer, conversation_id=str(conversation.id) if store else None
        )
        headers = {"X-Conversation-Id": str(conversation.id)} if store else {}
        return Response(body, headers=headers)


class ResponseCreateSerializer(serializers.Serializer):
    """The fields this server reads; any other is accepted and ignored."""

    input = serializers.JSONField()
    instructions = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    model = serializers.CharField(required=False, allow_blank=True, default="")
    tools = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, allow_null=True, default=False)
    store = serializers.BooleanField(required=False, allow_null=True, default=True)
    # `"conv_…"` or `{"id": "conv_…"}`
    conversation = serializers.JSONField(required=False, allow_null=True)
    previous_response_id = serializers.CharField(required=False, allow_null=True)


def _conversation_named(user, value):
    """The user's conversation a request's `conversation` names (None: none named)."""
    if isinstance(value, dict):
        value = value.get("id")
    if not value:
        return None
    if not isinstance(value, str):
        raise InvalidContent('conversation must be an id or {"id": id}.', param="conversation")
    conversation_id = responses_wire.unprefixed(value, responses_wire.CONVERSATION_PREFIX)
    return selectors.conversation_get_for_user(user=user, id=conversation_id)


def _discard(conversation, *, store: bool):
    """What deletes an unstored (`store: false`) conversation once its reply is read; None
    when it is kept."""
    if store:
        return None
    return functools.partial(services.conversation_delete, conversation=conversation)


def _run_whole(user, conversation, reply, *, store: bool) -> dict:
    """Run the reply to its end for a whole (not streamed) answer, and return it as
    stored; an unstored conversation is deleted once it is read. The run belongs to the
    process: a client that hangs up leaves it running."""
    release_connection()
    async_to_sync(generation.reply_start)(reply, wait=True)
    answer = selectors.message_dict_for_user(user=user, message_id=reply.id)
    if not store:
        services.conversation_delete(conversation=conversation)
    return answer


def _reply_named(user, response_id: str) -> Message:
    return selectors.response_get_for_user(
        user=user, id=responses_wire.unprefixed(response_id, responses_wire.RESPONSE_PREFIX)
    )


def _response_fields(conversation, reply, *, store: bool = True, previous=None) -> dict:
    """What a response says of its conversation (its id when kept, instructions, tools)
    and of the reply it continued from: `previous` when the request named it, else the
    reply above it on its path."""
    if previous is None:
        previous_id = selectors.message_previous_reply_id(message=reply)
    else:
        previous_id = previous.id
    return {
        "conversation_id": str(conversation.id) if store else None,
        "instructions": conversation.system_prompt,
        "tools": responses_wire.response_tools(conversation.context.get(CLIENT_TOOLS)),
        "store": store,
        "previous_response_id": previous_id,
    }


@extend_schema(exclude=True)
class ResponsesView(OpenAIView):
    """POST /v1/responses: stored in the tree (unless `store` is false); `conversation`
    appends to a conversation, `previous_response_id` continues from a reply."""

    throttle_classes = [GenerationThrottle]

    def post(self, request):
        serializer = ResponseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = data["store"] is not False
        previous_id = data.get("previous_response_id")
        previous = _reply_named(request.user, previous_id) if previous_id else None
        conversation, reply = services.response_start(
            owner=request.user,
            input=data["input"],
            instructions=data.get("instructions"),
            model=requested_model(data["model"]),
            tools=data.get("tools"),
            conversation=_conversation_named(request.user, data.get("conversation")),
            previous=previous,
            store=store,
        )
        fields = _response_fields(conversation, reply, store=store, previous=previous)

        if data["stream"]:
            maker = responses_wire.ResponseEvents(streaming.reply_start_dict(reply), **fields)
            return streaming.reply_stream(
                conversation=conversation,
                reply=reply,
                maker=maker,
                discard=_discard(conversation, store=store),
            )
        answer = _run_whole(request.user, conversation, reply, store=store)
        if answer["status"] == Message.Status.FAILED:
            return errors.reply_error_response(answer)
        return Response(responses_wire.response(answer, **fields))


@extend_schema(exclude=True)
class ResponseDetailView(OpenAIView):
    """GET /v1/responses/<id>: a stored reply as a response; DELETE deletes the reply (the
    input it answered stays in its conversation)."""

    def get(self, request, response_id):
        reply = _reply_named(request.user, response_id)
        answer = selectors.message_dict_for_user(user=request.user, message_id=reply.id)
        fields = _response_fields(reply.conversation, reply)
        return Response(responses_wire.response(answer, **fields))

    def delete(self, request, response_id):
        reply = _reply_named(request.user, response_id)
        deleted_id = reply.id  # the delete clears the instance's
        services.message_delete(message=reply)
        return Response(responses_wire.response_deleted(deleted_id))


@extend_schema(exclude=True)
class ResponseCancelView(OpenAIView):
    """POST /v1/responses/<id>/cancel: stop a queued or running reply (what it wrote so
    far is kept), as the chat's Stop does."""

    def post(self, request, response_id):
        reply = _reply_named(request.user, response_id)
        services.message_cancel(message=reply)
        answer = selectors.message_dict_for_user(user=request.user, message_id=reply.id)
        fields = _response_fields(reply.conversation, reply)
        return Response(responses_wire.response(answer, **fields))


class ConversationCreateSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)


class ConversationUpdateSerializer(serializers.Serializer):
    metadata = serializers.JSONField()


class ItemsAddSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


class ItemListSerializer(serializers.Serializer):
    """The query of an item list; `include` and other parameters are ignored."""

    after = serializers.CharField(required=False, allow_blank=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
    order = serializers.ChoiceField(
        choices=responses_wire.PAGE_ORDERS, required=False, default="desc"
    )


def _conversation_body(conversation) -> dict:
    return responses_wire.conversation_object(conversation_to_dict(conversation))


def _items(user, conversation) -> list[dict]:
    """The items of the conversation's shown branch, oldest first."""
    messages = selectors.conversation_branch(conversation=conversation)
    return responses_wire.conversation_items(
        selectors.message_dicts_for_user(user=user, messages=messages)
    )


@extend_schema(exclude=True)
class ConversationsView(OpenAIView):
    """POST /v1/conversations: a new conversation, with items and metadata."""

    def post(self, request):
        serializer = ConversationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = services.openai_conversation_create(
            owner=request.user,
            items=serializer.validated_data.get("items"),
            metadata=serializer.validated_data.get("metadata"),
        )
        return Response(_conversation_body(conversation))


@extend_schema(exclude=True)
class ConversationDetailView(OpenAIView):
    """GET, POST (new metadata) and DELETE /v1/conversations/<id>."""

    def get(self, request, conversation_id):
        return Response(_conversation_body(_conversation_named(request.user, conversation_id)))

    def post(self, request, conversation_id):
        conversation = _conversation_named(request.user, conversation_id)
        serializer = ConversationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = services.openai_conversation_update(
            conversation=conversation, metadata=serializer.validated_data["metadata"]
        )
        return Response(_conversation_body(conversation))

    def delete(self, request, conversation_id):
        conversation = _conversation_named(request.user, conversation_id)
        deleted_id = conversation.id  # the delete clears the instance's
        services.conversation_delete(conversation=conversation)
        return Response(responses_wire.conversation_deleted(deleted_id))


@extend_schema(exclude=True)
class ConversationItemsView(OpenAIView):
    """GET /v1/conversations/<id>/items: the shown branch's items, a cursor page at a time
    (`after`, `limit`, `order`, newest first by default); POST adds items to its end."""

    def get(self, request, conversation_id):
        conversation = _conversation_named(request.user, conversation_id)
        serializer = ItemListSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        page = responses_wire.conversation_item_page(
            _items(request.user, conversation),
            after=query.get("after"),
            limit=query["limit"],
            order=query["order"],
        )
        if page is None:
            raise Http404(f"No item '{query['after']}' in this conversation.")
        return Response(page)

    def post(self, request, conversation_id):
        """Add items to the end of the shown branch; answers the items made of them."""
        conversation = _conversation_named(request.user, conversation_id)
        serializer = ItemsAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        before = len(_items(request.user, conversation))
        conversation = services.openai_conversation_items_add(
            owner=request.user, conversation=conversation, items=serializer.validated_data["items"]
        )
        added = _items(request.user, conversation)[before:]
        return Response(
            responses_wire.conversation_item_page(added, after=None, limit=len(added), order="asc")
        )


@extend_schema(exclude=True)
class ConversationItemDetailView(OpenAIView):
    """GET /v1/conversations/<id>/items/<item id>; DELETE takes the item out of the
    conversation (answers the conversation)."""

    def get(self, request, conversation_id, item_id):
        conversation = _conversation_named(request.user, conversation_id)
        for item in _items(request.user, conversation):
            if item["id"] == item_id:
                return Response(item)
        raise Http404(f"No item '{item_id}' in this conversation.")

    def delete(self, request, conversation_id, item_id):
        conversation = services.openai_conversation_item_delete(
            conversation=_conversation_named(request.user, conversation_id), item_id=item_id
        )
        return Response(_conversation_body(conversation))


@extend_schema(exclude=True)
class UnknownRouteView(OpenAIView):
    """Every method of an unknown /v1/ route answers OpenAI's 404."""

    authentication_classes = []
    permission_classes = []

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise Http404(f"Unknown request URL: {request.method} {request.path}.")

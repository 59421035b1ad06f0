"""REST API views: thin, they check the request shape, call a service or a selector, and
return selector dicts; replies start through `generation.reply_start`. Access goes through
`selectors.*_get_for_user` (a turn's conversation: through the turn's lock, which reads it),
so anyone else's object is a 404."""

import uuid

from asgiref.sync import async_to_sync
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import generation, selectors, services
from ..asgi_files import attachment_response
from ..content import UPLOAD_ENVELOPE_BYTES, check_upload_size
from ..db import release_connection
from ..inputs import ContinueSerializer, EditSerializer, ResetSerializer
from ..llm.input import conversation_export_openai
from ..rendering import render_markdown
from ..serialization import storable
from ..throttling import GenerationThrottle, check_generation_rate
from . import serializers as s
from . import streaming

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A retry with the same key returns the reply already started.",
)


class ConversationPagination(CursorPagination):
    ordering = "-updated_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def branch_response(*, user, conversation_id, http_status=status.HTTP_200_OK) -> Response:
    # Read now: the turn moved the leaf, and the request may have waited for its reply
    # while the conversation was deleted (a 404).
    conversation = selectors.conversation_get_for_user(user=user, id=conversation_id)
    branch = selectors.conversation_branch(conversation=conversation)
    messages = selectors.message_dicts_for_user(
        user=user, messages=branch, conversation_id=conversation.id
    )
    return Response({"messages": messages}, status=http_status)


def conversation_id_from_url(pk: str) -> uuid.UUID:
    """The conversation id a URL names; a malformed one names none (a 404)."""
    try:
        return uuid.UUID(pk)
    except ValueError:
        raise Http404("No such conversation.") from None


def wait_for_reply(reply, created: bool) -> None:
    """Start the reply this request stored and wait for its end, holding no database
    connection meanwhile. The run belongs to the process, not to this request: a client
    that hangs up leaves it running."""
    release_connection()
    async_to_sync(generation.reply_start)(reply, created=created, wait=True)


def idempotency_key(request) -> str:
    return request.headers.get("Idempotency-Key", "")


def valid_query(request, serializer_class) -> dict:
    """The request's query parameters checked by `serializer_class` (else a 400)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(tags=["conversations"])
class ConversationListView(generics.ListCreateAPIView):
    """Your conversations, most recently updated first; `?q=` searches titles and text."""

    serializer_class = s.ConversationSerializer
    pagination_class = ConversationPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Search titles and messages"),
            OpenApiParameter("archived", OpenApiTypes.BOOL, description="Archived ones instead"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        archived = self.request.query_params.get("archived", "").lower() in {"1", "true", "yes"}
        return selectors.conversation_list_for_user(
            user=self.request.user,
            archived=archived,
            query=self.request.query_params.get("q", ""),
        )

    @extend_schema(
        request=s.ConversationCreateSerializer, responses={201: s.ConversationDetailSerializer}
    )
    def post(self, request, *args, **kwargs):
        serializer = s.ConversationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("archived", None)
        first = data.pop("message", None)
        if first is None:
            conversation = services.conversation_create(owner=request.user, **data)
        else:
            check_generation_rate(request.user)
            conversation, reply, created = services.conversation_start(
                owner=request.user,
                content=first["content"],
                references=first.get("references"),
                attachments=first["attachments"],
                **data,
            )
            release_connection()
            async_to_sync(generation.reply_start)(reply, created=created)
        return Response(
            selectors.conversation_detail(user=request.user, conversation=conversation),
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["conversations"])
class ConversationDetailView(APIView):
    """One conversation with the last page of its current branch as `messages`."""

    def get_object(self):
        return selectors.conversation_get_for_user(user=self.request.user, id=self.kwargs["pk"])

    @extend_schema(parameters=[s.PageLimitSerializer], responses=s.ConversationDetailSerializer)
    def get(self, request, pk):
        """One conversation with the last `limit` messages of its current branch as
        `messages`; with `has_more`, earlier ones come from `GET branch/?before=`."""
        conversation = self.get_object()
        return Response(
            selectors.conversation_detail(
                user=request.user,
                conversation=conversation,
                **valid_query(request, s.PageLimitSerializer),
            )
        )

    @extend_schema(request=s.ConversationSerializer, responses=s.ConversationDetailSerializer)
    def patch(self, request, pk):
        conversation = self.get_object()
        serializer = s.ConversationSerializer(conversation, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        conversation = services.conversation_update(
            conversation=conversation, **serializer.validated_data
        )
        return Response(selectors.conversation_detail(user=request.user, conversation=conversation))

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        services.conversation_delete(conversation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["conversations"])
class ConversationMessagesView(APIView):
    """The whole tree, oldest first (every branch)."""

    @extend_schema(responses=s.MessageListSerializer)
    def get(self, request, pk):
        conversation = selectors.conversation_get_for_user(user=request.user, id=pk)
        messages = selectors.conversation_tree(conversation=conversation)
        return Response(
            {
                "messages": selectors.message_dicts_for_user(
                    user=request.user, messages=messages, conversation_id=conversation.id
                )
            }
        )


@extend_schema(tags=["messages"])
class ContinueView(APIView):
    """Send a message and get the reply: answers the whole current branch after it. While
    another reply is being written, the new reply is `queued` (up to CHAT_QUEUE_LIMIT)."""

    throttle_classes = [GenerationThrottle]
    renderer_classes = [JSONRenderer, streaming.EventStreamRenderer]

    @extend_schema(
        request=ContinueSerializer,
        responses=s.MessageListSerializer,
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, pk):
        # Not read here: the turn's lock reads it, a 404 unless it is the user's own.
        conversation_id = conversation_id_from_url(pk)
        serializer = ContinueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def start():
            return services.message_continue(
                owner=request.user,
                conversation_id=conversation_id,
                content=data["content"],
                parent_id=data.get("parent_id"),
                references=data.get("references"),
                attachments=data["attachments"],
                idempotency_key=idempotency_key(request),
                model=data["model"],
            )

        if data["stream"] or "text/event-stream" in request.headers.get("Accept", ""):
            return streaming.continue_stream(
                conversation_id=conversation_id, user=request.user, start=start
            )
        reply, created = start()
        wait_for_reply(reply, created)
        return branch_response(user=request.user, conversation_id=conversation_id)


@extend_schema(tags=["conversations"])
class BranchView(APIView):
    """The current branch: read it a page at a time, or switch it."""

    @extend_schema(parameters=[s.BranchPageQuerySerializer], responses=s.BranchPageSerializer)
    def get(self, request, pk):
        """A page of the current branch, oldest first: its last `limit` messages, or the
        `limit` messages above the message `before` on its path from the root. Pass the
        first message of the page you have to get the one before it, until `has_more` is
        false."""
        conversation = selectors.conversation_get_for_user(user=request.user, id=pk)
        return Response(
            selectors.conversation_branch_page(
                user=request.user,
                conversation=conversation,
                **valid_query(request, s.BranchPageQuerySerializer),
            )
        )

    @extend_schema(request=s.BranchSerializer, responses=s.ConversationDetailSerializer)
    def post(self, request, pk):
        """Switch branch: show the newest leaf under `message_id`."""
        conversation = selectors.conversation_get_for_user(user=request.user, id=pk)
        serializer = s.BranchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = selectors.message_get_for_user(
            user=request.user, id=serializer.validated_data["message_id"]
        )
        conversation = services.conversation_switch_branch(
            conversation=conversation, message=message
        )
        return Response(selectors.conversation_detail(user=request.user, conversation=conversation))


@extend_schema(tags=["conversations"])
class ExportView(APIView):
    """The whole tree as versioned JSON, or `?as=openai`: the current branch as OpenAI
    chat messages."""

    @extend_schema(
        responses=s.ExportSerializer,
        parameters=[OpenApiParameter("as", OpenApiTypes.STR, enum=["openai"])],
    )
    def get(self, request, pk):
        conversation = selectors.conversation_get_for_user(user=request.user, id=pk)
        if request.query_params.get("as") == "openai":
            chat = conversation_export_openai(conversation=conversation)
            return Response({"messages": chat})
        return Response(selectors.conversation_export(conversation=conversation))


@extend_schema(tags=["conversations"])
class ImportView(APIView):
    """A new conversation from an export."""

    @extend_schema(request=s.ExportSerializer, responses={201: s.ConversationDetailSerializer})
    def post(self, request):
        conversation = services.conversation_import(owner=request.user, data=request.data)
        return Response(
            selectors.conversation_detail(user=request.user, conversation=conversation),
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["messages"])
class MessageDetailView(APIView):
    def get_object(self):
        return selectors.message_get_for_user(user=self.request.user, id=self.kwargs["pk"])

    @extend_schema(responses=s.MessageSerializer)
    def get(self, request, pk):
        message_id = self.get_object().id
        return Response(selectors.message_dict_for_user(user=request.user, message_id=message_id))

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """Delete the message and everything under it."""
        services.message_delete(message=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["messages"])
class MessageStreamView(APIView):
    """Follow a reply as Server-Sent Events: a snapshot of where it stands (`id:` = its
    `seq`), then every later delta, then `message.completed` or `message.failed`. Use it to
    resume a stream that broke (whatever `Last-Event-ID` was, the snapshot is exact)."""

    renderer_classes = [JSONRenderer, streaming.EventStreamRenderer]

    @extend_schema(responses={(200, "text/event-stream"): OpenApiTypes.STR})
    def get(self, request, pk):
        reply = selectors.message_get_for_user(user=request.user, id=pk)
        return streaming.resume_stream(reply=reply, user=request.user)


@extend_schema(tags=["messages"])
class EditView(APIView):
    """A new version of a user message (a new branch) and its reply."""

    throttle_classes = [GenerationThrottle]

    @extend_schema(
        request=EditSerializer, responses=s.MessageListSerializer, parameters=[IDEMPOTENCY_KEY]
    )
    def post(self, request, pk):
        message = selectors.message_get_for_user(user=request.user, id=pk)
        serializer = EditSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reply, created = services.message_edit(
            message=message,
            content=data["content"],
            references=data.get("references"),
            attachments=data["attachments"],
            idempotency_key=idempotency_key(request),
            model=data["model"],
        )
        wait_for_reply(reply, created)
        return branch_response(user=request.user, conversation_id=message.conversation_id)


@extend_schema(tags=["messages"])
class ResetView(APIView):
    """Regenerate an assistant reply (a new sibling reply), or answer again a user message
    that ends the shown branch (its reply was deleted)."""

    throttle_classes = [GenerationThrottle]

    @extend_schema(
        request=ResetSerializer, responses=s.MessageListSerializer, parameters=[IDEMPOTENCY_KEY]
    )
    def post(self, request, pk):
        message = selectors.message_get_for_user(user=request.user, id=pk)
        serializer = ResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reply, created = services.message_reset(
            message=message,
            idempotency_key=idempotency_key(request),
            model=serializer.validated_data["model"],
        )
        wait_for_reply(reply, created)
        return branch_response(user=request.user, conversation_id=message.conversation_id)


@extend_schema(tags=["messages"])
class CancelView(APIView):
    """Stop a queued or running reply; what it wrote so far is kept."""

    @extend_schema(request=None, responses=s.MessageSerializer)
    def post(self, request, pk):
        message = selectors.message_get_for_user(user=request.user, id=pk)
        services.message_cancel(message=message)
        return Response(selectors.message_dict_for_user(user=request.user, message_id=message.id))


@extend_schema(tags=["messages"])
class FeedbackView(APIView):
    """Your rating of a reply: PUT sets it (replacing yours), DELETE clears it."""

    @extend_schema(request=s.FeedbackSerializer, responses=s.FeedbackSerializer)
    def put(self, request, pk):
        message = selectors.message_get_for_user(user=request.user, id=pk)
        serializer = s.FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = services.feedback_set(
            message=message, user=request.user, **serializer.validated_data
        )
        return Response(s.FeedbackSerializer(feedback).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        message = selectors.message_get_for_user(user=request.user, id=pk)
        services.feedback_clear(message=message, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["attachments"])
class AttachmentUploadView(APIView):
    """Upload an image or file (multipart `file`); send its id in a message's
    `attachments`, or as `file_id` of an input_image / input_file item."""

    parser_classes = [MultiPartParser]

    @extend_schema(request=s.AttachmentUploadSerializer, responses={201: s.AttachmentSerializer})
    def post(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # the parser answers for a malformed header
        # Refused on the size it declares, before the body is parsed into a file.
        check_upload_size(declared, envelope=UPLOAD_ENVELOPE_BYTES)
        serializer = s.AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.attachment_create(
            owner=request.user, file=serializer.validated_data["file"]
        )
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["attachments"])
class AttachmentDetailView(APIView):
    """Download one of your uploads (images show as thumbnails in the chat)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        attachment = selectors.attachment_get_for_user(user=request.user, id=pk)
        return attachment_response(attachment, request._request)


@extend_schema(tags=["messages"])
class MarkdownView(APIView):
    """Markdown rendered and sanitized exactly as replies are: the chat page shows a reply
    still being written with it (a few times a second, not on every delta)."""

    @extend_schema(request=s.MarkdownSerializer, responses=s.RenderedSerializer)
    def post(self, request):
        serializer = s.MarkdownSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"html": render_markdown(storable(serializer.validated_data["text"]))})


@extend_schema(exclude=True)
class UnknownRouteView(APIView):
    """Every method of an unknown route answers the API's JSON 404."""

    permission_classes = [AllowAny]

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise Http404("No such API route: see /api/docs/.")

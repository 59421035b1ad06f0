"""REST views of share links: making, listing and revoking them, and the public read of
a shared branch. Access goes through `selectors.share_*`, so anyone else's link is a 404."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..visitors import visited
from . import serializers as s


def share_dict(request, share) -> dict:
    data = selectors.share_to_dict(share)
    data["url"] = request.build_absolute_uri(reverse("shared", args=[share.token]))
    data["api_url"] = request.build_absolute_uri(reverse("api:shared", args=[share.token]))
    return data


@extend_schema(tags=["shares"])
class ShareListView(APIView):
    @extend_schema(responses=s.ShareSerializer(many=True))
    def get(self, request, pk):
        conversation = selectors.conversation_get_for_user(user=request.user, id=pk)
        shares = selectors.share_list_for_conversation(conversation=conversation)
        return Response([share_dict(request, share) for share in shares])

    @extend_schema(request=s.ShareCreateSerializer, responses={201: s.ShareSerializer})
    def post(self, request, pk):
        """Create a read-only link to the branch up to a message, or to a selection."""
        conversation = selectors.conversation_get_for_user(user=request.user, id=pk)
        serializer = s.ShareCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = None
        if data.get("message_id"):
            message = selectors.message_get_for_user(user=request.user, id=data["message_id"])
        share = services.share_create(
            conversation=conversation,
            user=request.user,
            message=message,
            selected=data.get("selected"),
            expires_at=data.get("expires_at"),
        )
        return Response(share_dict(request, share), status=status.HTTP_201_CREATED)


class SharePagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema(tags=["shares"])
class MyShareListView(APIView):
    """Every link you made, in all your conversations, newest first (the chat page's
    "Shared links", where old ones are revoked)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("active", OpenApiTypes.BOOL, description="Only links that still open")
        ],
        responses=s.ShareSerializer(many=True),
    )
    def get(self, request):
        active = request.query_params.get("active", "").lower() in {"1", "true", "yes"}
        paginator = SharePagination()
        shares = paginator.paginate_queryset(
            selectors.share_list_for_user(user=request.user, active=active), request, view=self
        )
        return paginator.get_paginated_response([share_dict(request, share) for share in shares])


@extend_schema(tags=["shares"])
class ShareDetailView(APIView):
    @extend_schema(responses=s.ShareSerializer)
    def get(self, request, token):
        share = selectors.share_get_for_user(user=request.user, token=token)
        return Response(share_dict(request, share))

    @extend_schema(responses={204: None})
    def delete(self, request, token):
        """Revoke the link: it answers 404 from now on."""
        share = selectors.share_get_for_user(user=request.user, token=token)
        services.share_revoke(share=share, reason="Revoked by its owner.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["shares"])
class SharedView(APIView):
    """Public and read-only: the shared messages, without owner data."""

    # The session only tells the owner's visits apart; a bad token header is no error here.
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(responses=s.SharedSerializer, auth=[])
    def get(self, request, token):
        share = selectors.share_get_public(token=token)
        return visited(request, share, Response(selectors.share_public_dict(share=share)))

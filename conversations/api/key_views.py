"""REST views of a user's keys for the OpenAI-compatible API under /v1/ (the "API keys"
page): listing, making (the key shown once) and revoking."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from . import serializers as s


@extend_schema(tags=["api keys"])
class ApiKeyListView(APIView):
    """Your keys for the OpenAI-compatible API under /v1/ (revoked ones included)."""

    @extend_schema(responses=s.ApiKeySerializer(many=True))
    def get(self, request):
        keys = selectors.api_key_list_for_user(user=request.user)
        return Response([selectors.api_key_to_dict(api_key) for api_key in keys])

    @extend_schema(request=s.ApiKeyCreateSerializer, responses={201: s.ApiKeyCreatedSerializer})
    def post(self, request):
        """Make a key: the answer's `key` is the whole key, shown this once."""
        serializer = s.ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, secret = services.api_key_create(
            owner=request.user, name=serializer.validated_data["name"]
        )
        return Response(
            {**selectors.api_key_to_dict(api_key), "key": secret}, status=status.HTTP_201_CREATED
        )


@extend_schema(tags=["api keys"])
class ApiKeyDetailView(APIView):
    @extend_schema(responses=s.ApiKeySerializer)
    def get(self, request, pk):
        api_key = selectors.api_key_get_for_user(user=request.user, id=pk)
        return Response(selectors.api_key_to_dict(api_key))

    @extend_schema(responses=s.ApiKeySerializer)
    def delete(self, request, pk):
        """Revoke the key: requests with it are refused from now on."""
        api_key = selectors.api_key_get_for_user(user=request.user, id=pk)
        api_key = services.api_key_revoke(api_key=api_key)
        return Response(selectors.api_key_to_dict(api_key))

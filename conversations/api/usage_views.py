"""REST views of what a user may use and has used: the models offered and token usage."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from ..model_choices import model_choices
from ..quotas import usage_summary
from . import serializers as s


@extend_schema(tags=["models"])
class ModelListView(APIView):
    """The models a turn may name as `model` (continue, edit, reset), in the order to show
    them, and the default one."""

    @extend_schema(responses=s.ModelChoicesSerializer)
    def get(self, request):
        return Response(model_choices())


@extend_schema(tags=["usage"])
class UsageView(APIView):
    """Your tokens today, over the last 30 days and by model, and your daily quota."""

    @extend_schema(responses=s.UsageSerializer)
    def get(self, request):
        return Response(usage_summary(request.user))

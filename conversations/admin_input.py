"""Odd input to the admin's change lists answered as the admin answers a bad filter, not
with a 500. Every ModelAdmin of the project takes `ChangeListInputMixin`."""

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError


class ChangeListInputMixin:
    """A filter or search holding U+0000, which PostgreSQL cannot be asked about, is a
    wrong filter (Django sends those to `?e=1`); an action on ids that cannot name a row
    of this model changes nothing and says so (Django's own lookup raised on them)."""

    def get_changelist_instance(self, request):
        if any("\x00" in value for _name, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("A filter holds U+0000.")
        return super().get_changelist_instance(request)

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                pk.to_python(value)
        except ValidationError:
            self.message_user(
                request, "Those items do not exist. No items were changed.", messages.WARNING
            )
            return None
        return super().response_action(request, queryset)

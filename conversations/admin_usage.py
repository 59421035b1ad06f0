"""Admin pages of models and tokens: the models the chat's picker offers, each user's own
daily quota (on the user's page), and token usage per user over a chosen period."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .admin_input import ChangeListInputMixin
from .llm.catalog import available_models
from .models import ModelOption, TokenUsage, UserQuota
from .quotas import daily_quota, usage_by_user


@admin.register(ModelOption)
class ModelOptionAdmin(ChangeListInputMixin, admin.ModelAdmin):
    """The picker's models: while any row is enabled, only enabled rows the provider lists
    are offered, in their `position` order; the default row writes the replies of
    conversations that chose no model."""

    list_display = ["model", "display_name", "position", "enabled", "is_default"]
    list_editable = ["display_name", "position", "enabled", "is_default"]
    search_fields = ["model", "display_name"]

    def changelist_view(self, request, extra_context=None):
        provider_models = [model["id"] for model in available_models()]
        return super().changelist_view(
            request, {**(extra_context or {}), "provider_models": provider_models}
        )


class UserQuotaInline(admin.StackedInline):
    model = UserQuota
    can_delete = True
    max_num = 1
    verbose_name = verbose_name_plural = "daily token quota"


User = get_user_model()
# The user page of django.contrib.auth, with the quota under it.
BaseUserAdmin = type(admin.site._registry[User]) if admin.site.is_registered(User) else UserAdmin
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class ChatUserAdmin(ChangeListInputMixin, BaseUserAdmin):
    inlines = [*BaseUserAdmin.inlines, UserQuotaInline]


@admin.register(TokenUsage)
class TokenUsageAdmin(ChangeListInputMixin, admin.ModelAdmin):
    """What each reply cost; above the rows, their sum per user for the filtered period
    (`created_at`: today, the past 7 days, this month...)."""

    list_display = ["created_at", "user", "model", "input_tokens", "output_tokens", "message"]
    list_filter = [
        ("created_at", admin.DateFieldListFilter),
        "model",
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["user"]
    search_fields = ["user__username", "model"]
    date_hierarchy = "created_at"
    raw_id_fields = ["user", "message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            totals = usage_by_user(changelist.queryset.order_by())
            for row in totals:
                row["daily_quota"] = daily_quota(row["user_id"])
            response.context_data["usage_by_user"] = totals
        return response

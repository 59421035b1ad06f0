"""Admin: staff can read everything and act through services, never edit message content."""

import csv

from django.contrib import admin
from django.db.models import Count
from django.http import HttpResponse
from django.utils.text import Truncator

from . import services
from .models import (
    ApiKey,
    Attachment,
    ContentItem,
    Conversation,
    Feedback,
    Message,
    Reference,
    ServerProcess,
    Share,
)


def content_preview(message: Message, length: int = 80) -> str:
    texts = [item.text for item in message.content.all() if item.text]
    return Truncator(" ".join(texts)).chars(length)


# A cell starting with one of these is a formula to spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """`value` as a CSV cell that a spreadsheet shows as text: user and model text must
    not run as a formula on the machine of whoever opens the export."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class ReadOnlyMixin:
    """View-only admin: messages and what hangs off them are changed by services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ServiceDeleteMixin:
    """Deletes in the admin go through the service that owns them, one object at a time,
    so the admin removes exactly what the API would (and tells open tabs)."""

    def delete_with_service(self, obj):
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.delete_with_service(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_with_service(obj)


class MessageInline(ReadOnlyMixin, admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "status", "model", "preview", "parent"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("content")

    @admin.display(description="content")
    def preview(self, message):
        return content_preview(message)


@admin.register(Conversation)
class ConversationAdmin(ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["title_or_id", "owner", "message_count", "archived", "updated_at"]
    list_filter = ["archived", ("owner", admin.RelatedOnlyFieldListFilter), "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["title", "owner__username", "owner__email"]
    date_hierarchy = "updated_at"
    inlines = [MessageInline]
    actions = ["archive", "unarchive"]

    def delete_with_service(self, obj):
        services.conversation_delete(conversation=obj)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    @admin.display(description="title", ordering="title")
    def title_or_id(self, conversation):
        return str(conversation)

    @admin.display(description="messages", ordering="message_count")
    def message_count(self, conversation):
        return conversation.message_count

    @admin.action(description="Archive selected conversations")
    def archive(self, request, queryset):
        for conversation in queryset:
            services.conversation_update(conversation=conversation, archived=True)

    @admin.action(description="Restore selected conversations from the archive")
    def unarchive(self, request, queryset):
        for conversation in queryset:
            services.conversation_update(conversation=conversation, archived=False)


class ContentItemInline(ReadOnlyMixin, admin.TabularInline):
    model = ContentItem
    fields = ["index", "type", "text", "data"]
    readonly_fields = fields
    can_delete = False
    extra = 0


class ReferenceInline(ReadOnlyMixin, admin.TabularInline):
    model = Reference
    fields = ["index", "type", "name", "url", "content"]
    readonly_fields = fields
    can_delete = False
    extra = 0


@admin.register(Message)
class MessageAdmin(ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "conversation", "role", "status", "model", "preview", "created_at"]
    list_filter = ["role", "status", "created_at"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation", "parent"]
    inlines = [ContentItemInline, ReferenceInline]
    show_full_result_count = False

    def delete_with_service(self, obj):
        services.message_delete(message=obj)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("content")

    @admin.display(description="content")
    def preview(self, message):
        return content_preview(message)


@admin.register(Feedback)
class FeedbackAdmin(ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["message", "user", "rating", "model", "comment", "created_at"]
    list_filter = ["rating", "model", "created_at"]
    list_select_related = ["user", "message"]
    raw_id_fields = ["message", "user"]
    search_fields = ["comment", "user__username"]
    actions = ["export_csv"]

    def delete_with_service(self, obj):
        services.feedback_delete(feedback=obj)

    @admin.action(description="Export selected feedback as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="feedback.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "message_id",
                "conversation_id",
                "user",
                "rating",
                "reasons",
                "comment",
                "model",
                "reply",
                "created_at",
            ]
        )
        rows = queryset.select_related("user", "message").prefetch_related("message__content")
        for feedback in rows:
            row = [
                feedback.message_id,
                feedback.message.conversation_id,
                feedback.user.get_username(),
                feedback.rating,
                "; ".join(feedback.reasons),
                feedback.comment,
                feedback.model,
                content_preview(feedback.message, length=10_000),
                feedback.created_at.isoformat(),
            ]
            writer.writerow([csv_cell(value) for value in row])
        return response


@admin.register(Share)
class ShareAdmin(ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "short_token",
        "conversation",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "view_count",
    ]
    list_filter = ["created_at", "revoked_at"]
    list_select_related = ["conversation", "created_by"]
    raw_id_fields = ["conversation", "created_by", "message"]
    actions = ["revoke"]

    def delete_with_service(self, obj):
        services.share_delete(share=obj)

    @admin.display(description="token")
    def short_token(self, share):
        return f"{share.token[:8]}…"

    @admin.action(description="Revoke selected share links")
    def revoke(self, request, queryset):
        for share in queryset:
            services.share_revoke(share=share)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Keys of the OpenAI-compatible API: who has which, when used; never their secret."""

    list_display = ["name", "owner", "shown_prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["created_at", "revoked_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "prefix", "owner__username"]
    fields = ["name", "owner", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="key")
    def shown_prefix(self, api_key):
        return f"{api_key.prefix}…"

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)


@admin.register(Attachment)
class AttachmentAdmin(ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "owner", "content_type", "size", "created_at"]
    list_filter = ["content_type", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]

    def delete_with_service(self, obj):
        services.attachment_delete(attachment=obj)


@admin.register(ServerProcess)
class ServerProcessAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The server processes running replies, and when each last showed it was alive."""

    list_display = ["host", "pid", "started_at", "heartbeat_at"]

    def has_delete_permission(self, request, obj=None):
        return False

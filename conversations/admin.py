"""Admin: staff can read everything and act through services, never edit message content."""

import csv

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from . import selectors, services
from .admin_input import ChangeListInputMixin
from .asgi_files import INLINE_TYPES, attachment_response
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
from .visitors import private

# What a message says, as opposed to how the model got there (reasoning, tool calls).
ANSWER_TYPES = {"input_text", "output_text", "refusal"}
# Rows of a conversation's tree on its page; the message list shows longer trees whole.
OUTLINE_ROWS = 500
# Indentation levels the stylesheet has; deeper branches stay at the last one.
MAX_LEVEL = 8
# The admin's stylesheet: the conversation tree, readable feedback rows, image previews.
ADMIN_CSS = {"all": ["conversations/admin.css"]}


def answer_text(message: Message | None) -> str:
    """The text a message says (a reply's answer, without its reasoning)."""
    if message is None:
        return ""
    return "\n".join(
        item.text for item in message.content.all() if item.type in ANSWER_TYPES and item.text
    )


def reasoning_text(message: Message) -> str:
    """The reasoning a reply showed, apart from its answer."""
    return "\n".join(
        item.text for item in message.content.all() if item.type == "reasoning" and item.text
    )


def excerpt(text: str, length: int = 160) -> str:
    """`text` on one line, cut to `length` characters."""
    return Truncator(" ".join(text.split())).chars(length)


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


@admin.register(Conversation)
class ConversationAdmin(ChangeListInputMixin, ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["title_or_id", "owner", "message_count", "archived", "updated_at"]
    list_filter = ["archived", ("owner", admin.RelatedOnlyFieldListFilter), "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["title", "owner__username", "owner__email", "chat_id"]
    date_hierarchy = "updated_at"
    actions = ["archive", "unarchive"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "owner",
                    "title",
                    "model",
                    "chat_id",
                    "archived",
                    "created_at",
                    "updated_at",
                    "system_prompt",
                    "tools",
                    "context",
                ]
            },
        ),
        ("Messages", {"fields": ["message_tree"], "classes": ["wide"]}),
    ]
    readonly_fields = ["created_at", "message_tree"]

    class Media:
        css = ADMIN_CSS

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

    @admin.display(description="messages")
    def message_tree(self, conversation):
        """The tree, one row per message, indented where it branches."""
        rows, total = selectors.conversation_outline(conversation=conversation, limit=OUTLINE_ROWS)
        for row in rows:
            message = row["message"]
            row["level"] = min(row["level"], MAX_LEVEL)
            row["excerpt"] = excerpt(answer_text(message))
            row["url"] = reverse("admin:conversations_message_change", args=[message.id])
        all_messages = reverse("admin:conversations_message_changelist")
        return render_to_string(
            "admin/conversations/message_tree.html",
            {
                "rows": rows,
                "total": total,
                "all_messages": f"{all_messages}?conversation__id__exact={conversation.id}",
            },
        )

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
    fields = ["index", "type", "tool_server", "text", "data"]
    readonly_fields = fields
    can_delete = False
    extra = 0

    @admin.display(description="MCP server")
    def tool_server(self, item):
        """The MCP server a tool call went to (and whether it failed there)."""
        server = item.data.get("server", "")
        if server and item.data.get("is_error"):
            return f"{server} (failed)"
        return server


class ReferenceInline(ReadOnlyMixin, admin.TabularInline):
    model = Reference
    fields = ["index", "type", "name", "url", "content"]
    readonly_fields = fields
    can_delete = False
    extra = 0


@admin.register(Message)
class MessageAdmin(ChangeListInputMixin, ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "conversation", "role", "status", "model", "preview", "created_at"]
    list_filter = ["role", "status", "created_at"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation", "parent"]
    search_fields = ["content__text", "conversation__title", "conversation__owner__username"]
    search_help_text = "Message text, conversation title or owner's username."
    inlines = [ContentItemInline, ReferenceInline]
    show_full_result_count = False

    def delete_with_service(self, obj):
        services.message_delete(message=obj)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("content")

    @admin.display(description="content")
    def preview(self, message):
        return excerpt(answer_text(message), 80)


@admin.register(Feedback)
class FeedbackAdmin(ChangeListInputMixin, ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    # Few, wrapping columns: beside the admin's menu and filters, a 1280 px screen leaves
    # the list about 600 px.
    list_display = ["when", "user_name", "rating", "verdict", "exchange"]
    list_display_links = ["when"]
    list_filter = ["rating", "model", "created_at"]
    list_select_related = ["user", "message__parent"]
    raw_id_fields = ["message", "user"]
    search_fields = ["comment", "user__username", "user__first_name", "user__last_name"]
    actions = ["export_csv"]

    class Media:
        css = ADMIN_CSS

    def delete_with_service(self, obj):
        services.feedback_delete(feedback=obj)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("message__content", "message__parent__content")
        )

    @admin.display(description="date", ordering="created_at")
    def when(self, feedback):
        return timezone.localtime(feedback.created_at).strftime("%d %b %Y %H:%M")

    @admin.display(description="user", ordering="user__username")
    def user_name(self, feedback):
        name = feedback.user.get_full_name()
        username = feedback.user.get_username()
        return f"{name} ({username})" if name else username

    @admin.display(description="reasons and comment")
    def verdict(self, feedback):
        return format_html(
            '<span class="reasons">{}</span> <span class="comment">{}</span>',
            ", ".join(feedback.reasons),
            excerpt(feedback.comment, 300),
        )

    @admin.display(description="prompt and reply")
    def exchange(self, feedback):
        message = feedback.message
        return format_html(
            '<span class="prompt">{}</span> '
            '<span class="reply"><span class="model">{}</span> {}</span>',
            excerpt(answer_text(message.parent)),
            message.model or "reply",
            excerpt(answer_text(message)),
        )

    @admin.action(description="Export selected feedback as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="feedback.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "date",
                "user",
                "rating",
                "reasons",
                "comment",
                "model",
                "prompt",
                "reply",
                "reasoning",
                "conversation",
                "conversation_id",
                "message_id",
            ]
        )
        rows = queryset.select_related("user", "message__parent").prefetch_related(
            "message__content", "message__parent__content"
        )
        for feedback in rows:
            message = feedback.message
            conversation_url = reverse(
                "admin:conversations_conversation_change", args=[message.conversation_id]
            )
            row = [
                feedback.created_at.isoformat(),
                feedback.user.get_username(),
                feedback.rating,
                "; ".join(feedback.reasons),
                feedback.comment,
                feedback.model,
                answer_text(message.parent),
                answer_text(message),
                reasoning_text(message),
                request.build_absolute_uri(conversation_url),
                message.conversation_id,
                message.id,
            ]
            writer.writerow([csv_cell(value) for value in row])
        return response


@admin.register(Share)
class ShareAdmin(ChangeListInputMixin, ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "short_token",
        "title",
        "conversation",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "view_count",
    ]
    list_filter = ["created_at", "revoked_at"]
    list_select_related = ["conversation", "created_by"]
    raw_id_fields = ["conversation", "created_by", "message"]
    search_fields = ["title", "created_by__username"]
    actions = ["revoke"]

    def delete_with_service(self, obj):
        services.share_delete(share=obj)

    @admin.display(description="token")
    def short_token(self, share):
        return f"{share.token[:8]}…"

    @admin.action(description="Revoke selected share links")
    def revoke(self, request, queryset):
        for share in queryset:
            services.share_revoke(share=share, reason="Revoked by staff.")


@admin.register(ApiKey)
class ApiKeyAdmin(ChangeListInputMixin, ReadOnlyMixin, admin.ModelAdmin):
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
class AttachmentAdmin(ChangeListInputMixin, ServiceDeleteMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["thumbnail", "name", "owner", "content_type", "size", "created_at"]
    list_display_links = ["name"]
    list_filter = ["content_type", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]
    fields = ["preview", "name", "owner", "content_type", "size", "created_at"]
    readonly_fields = ["preview", "created_at"]

    class Media:
        css = ADMIN_CSS

    def delete_with_service(self, obj):
        services.attachment_delete(attachment=obj)

    def get_urls(self):
        # Before the default routes, whose `<object_id>/` would take the preview's path.
        preview = path(
            "<path:object_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="conversations_attachment_preview",
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request, object_id):
        """The stored file, for staff: raster images inline, anything else downloads, so
        an uploaded page never opens as one."""
        attachment = self.get_object(request, object_id)
        if attachment is None or not self.has_view_permission(request, attachment):
            raise Http404("No such attachment.")
        return private(attachment_response(attachment, request))

    def _image(self, attachment, css_class):
        url = reverse("admin:conversations_attachment_preview", args=[attachment.id])
        if attachment.content_type not in INLINE_TYPES:
            return format_html('<a href="{}">Download</a>', url)
        return format_html(
            '<a href="{}"><img class="{}" src="{}" alt="{}"></a>',
            url,
            css_class,
            url,
            attachment.name,
        )

    @admin.display(description="preview")
    def thumbnail(self, attachment):
        return self._image(attachment, "attachment-preview")

    @admin.display(description="preview")
    def preview(self, attachment):
        return self._image(attachment, "attachment-preview large")


@admin.register(ServerProcess)
class ServerProcessAdmin(ChangeListInputMixin, ReadOnlyMixin, admin.ModelAdmin):
    """The server processes running replies, and when each last showed it was alive."""

    list_display = ["host", "pid", "started_at", "heartbeat_at"]

    def has_delete_permission(self, request, obj=None):
        return False


# Django's groups page, taking odd input as the project's pages do.
admin.site.unregister(Group)


@admin.register(Group)
class ChatGroupAdmin(ChangeListInputMixin, GroupAdmin):
    pass


# The models, quota and usage pages (a module of their own: another job).
from . import admin_usage  # noqa: E402, F401

# MCP servers' admin lives with the rest of MCP; importing it registers it.
from .mcp import admin as mcp_admin  # noqa: E402, F401

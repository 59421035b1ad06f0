"""Admin of MCP servers: add and change those run at run time (their secrets written,
never shown back), see every server's status in this process, refresh the tool lists."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from .. import services
from ..admin_input import ChangeListInputMixin
from ..errors import InvalidMcpServer
from ..models import McpServer
from .hub import hub

SECRET_HELP = (
    "A JSON object of strings. Stored values are never shown: leave this empty to keep "
    "them, write {} to remove them all."
)


def secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=SECRET_HELP,
    )


class McpServerForm(forms.ModelForm):
    """The server's settings; `env` and `headers` are write-only."""

    url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    new_env = secret_field("Environment (stdio)")
    new_headers = secret_field("HTTP headers")

    class Meta:
        model = McpServer
        fields = ["name", "transport", "command", "args", "url", "enabled", "offered_by_default"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field, stored in (
            ("new_env", self.instance.env),
            ("new_headers", self.instance.headers),
        ):
            if stored:
                names = ", ".join(sorted(stored))
                self.fields[field].help_text = f"Set: {names}. {SECRET_HELP}"

    def _secret(self, field: str) -> dict | None:
        text = self.cleaned_data.get(field, "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}") from None
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and isinstance(item, str) for key, item in value.items()
        ):
            raise forms.ValidationError('A JSON object of strings, such as {"API_KEY": "..."}.')
        return value

    def clean_args(self):
        return self.cleaned_data.get("args") or []

    def clean_new_env(self):
        return self._secret("new_env")

    def clean_new_headers(self):
        return self._secret("new_headers")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = McpServer(
            name=cleaned["name"],
            transport=cleaned["transport"],
            command=cleaned.get("command", ""),
            args=cleaned["args"],
            url=cleaned.get("url", ""),
            env=cleaned["new_env"] if cleaned["new_env"] is not None else self.instance.env,
            headers=(
                cleaned["new_headers"]
                if cleaned["new_headers"] is not None
                else self.instance.headers
            ),
        )
        try:
            services.mcp_server_validate(server=candidate)
        except InvalidMcpServer as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned


def _when(value) -> str:
    return value.strftime("%d %b %Y %H:%M:%S") if value else "never"


@admin.register(McpServer)
class McpServerAdmin(ChangeListInputMixin, admin.ModelAdmin):
    """MCP servers added at run time; the list also shows those of `MCP_SERVERS`."""

    form = McpServerForm
    change_list_template = "admin/conversations/mcpserver/change_list.html"
    list_display = [
        "name",
        "transport",
        "target",
        "enabled",
        "offered_by_default",
        "state",
        "tool_count",
        "last_error",
        "last_success",
    ]
    list_filter = ["enabled", "transport"]
    search_fields = ["name", "command", "url"]
    readonly_fields = ["state", "tool_list", "last_error", "last_success"]
    fieldsets = [
        (None, {"fields": ["name", "transport", "enabled", "offered_by_default"]}),
        ("stdio", {"fields": ["command", "args", "new_env"]}),
        ("Streamable HTTP", {"fields": ["url", "new_headers"]}),
        (
            "Status in this process",
            {"fields": ["state", "tool_list", "last_error", "last_success"]},
        ),
    ]

    def status(self, server):
        return next((s for s in hub.statuses() if s.name == server.name), None)

    @admin.display(description="command or URL")
    def target(self, server):
        if server.transport == McpServer.Transport.HTTP:
            return server.url
        return " ".join([server.command, *server.args])

    @admin.display(description="status")
    def state(self, server):
        status = self.status(server)
        return status.state if status else ("disabled" if not server.enabled else "not started")

    @admin.display(description="tools")
    def tool_count(self, server):
        status = self.status(server)
        return len(status.tools) if status else 0

    @admin.display(description="tools")
    def tool_list(self, server):
        status = self.status(server)
        if not status or not status.tools:
            return "none"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code> {}</li>",
                ((t.function, t.description) for t in status.tools),
            ),
        )

    @admin.display(description="last error")
    def last_error(self, server):
        status = self.status(server)
        if not status or not status.last_error:
            return "none"
        return f"{status.last_error} ({_when(status.last_error_at)})"

    @admin.display(description="last success")
    def last_success(self, server):
        status = self.status(server)
        return _when(status.last_success_at) if status else "never"

    def save_model(self, request, obj, form, change):
        services.mcp_server_save(
            server=obj,
            env=form.cleaned_data["new_env"],
            headers=form.cleaned_data["new_headers"],
        )

    def delete_model(self, request, obj):
        services.mcp_server_delete(server=obj)

    def delete_queryset(self, request, queryset):
        for server in queryset:
            services.mcp_server_delete(server=server)

    def get_urls(self):
        refresh = path(
            "refresh/",
            self.admin_site.admin_view(self.refresh_view),
            name="conversations_mcpserver_refresh",
        )
        return [refresh, *super().get_urls()]

    def refresh_view(self, request):
        """Re-read the servers and list their tools now (POST), then show the list."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        services.mcp_servers_refresh()
        failed = [status.name for status in hub.statuses() if status.state == "failed"]
        if failed:
            self.message_user(
                request, f"Tool lists refreshed; failing: {', '.join(failed)}.", messages.WARNING
            )
        else:
            self.message_user(request, "Tool lists refreshed.")
        return HttpResponseRedirect(reverse("admin:conversations_mcpserver_changelist"))

    def changelist_view(self, request, extra_context=None):
        """The list, with the servers of `MCP_SERVERS` and their status above it."""
        configured = [status for status in hub.statuses() if status.source == "MCP_SERVERS"]
        extra_context = {
            **(extra_context or {}),
            "env_servers": configured,
            "hub_errors": hub.reload_errors,
            "refresh_url": reverse("admin:conversations_mcpserver_refresh"),
        }
        return super().changelist_view(request, extra_context)

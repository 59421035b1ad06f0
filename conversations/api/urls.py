from django.conf import settings
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ..csp import csp_override
from . import chat, key_views, share_views, usage_views, views

app_name = "api"

urlpatterns = [
    path("conversations/", views.ConversationListView.as_view(), name="conversations"),
    path("conversations/import/", views.ImportView.as_view(), name="import"),
    path("conversations/<str:pk>/", views.ConversationDetailView.as_view(), name="conversation"),
    path(
        "conversations/<str:pk>/messages/",
        views.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path("conversations/<str:pk>/continue/", views.ContinueView.as_view(), name="continue"),
    path("conversations/<str:pk>/branch/", views.BranchView.as_view(), name="branch"),
    path("conversations/<str:pk>/export/", views.ExportView.as_view(), name="export"),
    path("conversations/<str:pk>/shares/", share_views.ShareListView.as_view(), name="shares"),
    path("messages/<str:pk>/", views.MessageDetailView.as_view(), name="message"),
    path("messages/<str:pk>/stream/", views.MessageStreamView.as_view(), name="stream"),
    path("messages/<str:pk>/edit/", views.EditView.as_view(), name="edit"),
    path("messages/<str:pk>/reset/", views.ResetView.as_view(), name="reset"),
    path("messages/<str:pk>/cancel/", views.CancelView.as_view(), name="cancel"),
    path("messages/<str:pk>/feedback/", views.FeedbackView.as_view(), name="feedback"),
    path("keys/", key_views.ApiKeyListView.as_view(), name="api-keys"),
    path("keys/<str:pk>/", key_views.ApiKeyDetailView.as_view(), name="api-key"),
    path("models/", usage_views.ModelListView.as_view(), name="models"),
    path("usage/", usage_views.UsageView.as_view(), name="usage"),
    path("markdown/", views.MarkdownView.as_view(), name="markdown"),
    path("attachments/", views.AttachmentUploadView.as_view(), name="attachments"),
    path("attachments/<str:pk>/", views.AttachmentDetailView.as_view(), name="attachment"),
    path("shares/", share_views.MyShareListView.as_view(), name="my-shares"),
    path("shares/<str:token>/", share_views.ShareDetailView.as_view(), name="share"),
    path("shared/<str:token>/", share_views.SharedView.as_view(), name="shared"),
    # The AI SDK's routes: no final slash, as `DefaultChatTransport` asks for them.
    path("chat", chat.ChatView.as_view(), name="chat"),
    path("chat/<str:chat_id>", chat.ChatDetailView.as_view(), name="chat-detail"),
    path("chat/<str:chat_id>/stream", chat.ChatStreamView.as_view(), name="chat-stream"),
    # One version, named by the view: a `?version=` from the query went into a header.
    path(
        "schema/",
        SpectacularAPIView.as_view(api_version=settings.SPECTACULAR_SETTINGS["VERSION"]),
        name="schema",
    ),
    # Swagger UI's page: its script comes from a file (?script), but its page has an
    # inline <style>.
    path(
        "docs/",
        csp_override(style_src="'self' 'unsafe-inline'")(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema")
        ),
        name="docs",
    ),
    # Any other route under /api/ is a JSON 404 too (paths without the final slash are
    # left to APPEND_SLASH).
    re_path(r"^.*/$", views.UnknownRouteView.as_view()),
]

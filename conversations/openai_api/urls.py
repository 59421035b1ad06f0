from django.urls import path, re_path

from . import views

app_name = "openai"

urlpatterns = [
    path("models", views.ModelListView.as_view(), name="models"),
    # Model ids may hold slashes (`org/model`).
    path("models/<path:model_id>", views.ModelDetailView.as_view(), name="model"),
    path("chat/completions", views.ChatCompletionsView.as_view(), name="chat-completions"),
    path("responses", views.ResponsesView.as_view(), name="responses"),
    path("responses/<str:response_id>", views.ResponseDetailView.as_view(), name="response"),
    path(
        "responses/<str:response_id>/cancel",
        views.ResponseCancelView.as_view(),
        name="response-cancel",
    ),
    path("conversations", views.ConversationsView.as_view(), name="conversations"),
    path(
        "conversations/<str:conversation_id>",
        views.ConversationDetailView.as_view(),
        name="conversation",
    ),
    path(
        "conversations/<str:conversation_id>/items",
        views.ConversationItemsView.as_view(),
        name="conversation-items",
    ),
    path(
        "conversations/<str:conversation_id>/items/<str:item_id>",
        views.ConversationItemDetailView.as_view(),
        name="conversation-item",
    ),
    re_path(r"^.*$", views.UnknownRouteView.as_view()),
]

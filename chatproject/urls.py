from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from conversations import views
from conversations.forms import AdminLoginForm, LoginForm

# Failed logins are throttled on both login pages (conversations/login_throttle.py).
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/<uuid:conversation_id>/", views.chat, name="conversation"),
    path("keys/", views.api_keys, name="api-keys"),
    path("s/<str:token>/", views.shared, name="shared"),
    # path: an imported file_id may hold any character; the view answers 404 to non-ids.
    path("s/<str:token>/files/<path:attachment_id>/", views.shared_file, name="shared-file"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("conversations.api.urls")),
    path("v1/", include("conversations.openai_api.urls")),
]

# A database that is away answers 503 rather than 500 (JSON under /api/).
handler500 = views.server_error

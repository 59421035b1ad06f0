from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from conversations import views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/<uuid:conversation_id>/", views.chat, name="conversation"),
    path("s/<str:token>/", views.shared, name="shared"),
    # path: an imported file_id may hold any character; the view answers 404 to non-ids.
    path("s/<str:token>/files/<path:attachment_id>/", views.shared_file, name="shared-file"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("conversations.api.urls")),
]

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out
from django.core import checks


class ConversationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"

    def ready(self):
        from .llm import check_provider_setting
        from .mcp import check_mcp_servers
        from .signals import close_sockets_on_logout

        checks.register(check_provider_setting)
        checks.register(check_mcp_servers)
        user_logged_out.connect(close_sockets_on_logout, dispatch_uid="close_sockets_on_logout")

from django.apps import AppConfig
from django.core import checks


class ConversationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"

    def ready(self):
        from .llm import check_provider_setting

        checks.register(check_provider_setting)

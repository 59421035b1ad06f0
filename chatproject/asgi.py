"""ASGI entry point: HTTP to Django, websockets to the conversation consumer, lifespan
to the reply runners."""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
# Django is set up before the consumers import models.
django_asgi_app = get_asgi_application()

from conversations.processes import lifespan  # noqa: E402
from conversations.routing import websocket_urlpatterns  # noqa: E402
from conversations.websocket_origin import OriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Replies run in this process's event loop: start-up looks for orphaned
        # ones, shutdown stops those still running.
        "lifespan": lifespan,
        # Only this site's own pages (or trusted origins) may open a socket.
        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

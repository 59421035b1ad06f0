from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from .consumers import ConversationConsumer

websocket_urlpatterns = [
    path("ws/conversations/<str:conversation_id>/", ConversationConsumer.as_asgi()),
    # Any other socket is refused at the handshake (with no route, the server answered 500).
    re_path(r"^", WebsocketDenier.as_asgi()),
]

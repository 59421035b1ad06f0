"""Websockets only from this site's own pages: the whole Origin (scheme, host, port) is
checked, as Django's CSRF check does for forms.

Browsers send cookies with a websocket handshake from any page, and the same-origin
policy does not apply to websockets. Channels' AllowedHostsOriginValidator compares only
the host name, so a page on another port or scheme of the same host could still use the
user's session to read and write their conversations.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def request_scheme(headers: dict, scope) -> str:
    """`https` or `http`: the scheme of the page that may open this socket, as
    `HttpRequest.scheme` would say (SECURE_PROXY_SSL_HEADER first, when set)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower().encode())
        if value is not None:
            forwarded = value.decode("latin1").split(",", 1)[0].strip()
            return "https" if forwarded == secure_value else "http"
    return "https" if scope.get("scheme") == "wss" else "http"


def trusted(origin: str) -> bool:
    """Whether CSRF_TRUSTED_ORIGINS lists `origin`, wildcards read as Django's CSRF check
    reads them (`https://*.example.com`)."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        "*" in pattern
        and urlsplit(pattern).scheme == parsed.scheme
        and is_same_domain(parsed.netloc, urlsplit(pattern).netloc.lstrip("*"))
        for pattern in settings.CSRF_TRUSTED_ORIGINS
    )


def origin_allowed(scope) -> bool:
    """Whether the handshake's Origin is the site's own (the scheme of the connection and
    the Host it was sent to, an allowed host) or a trusted one. No Origin: refused."""
    headers = dict(scope["headers"])
    origin = headers.get(b"origin", b"").decode("latin1")
    host = headers.get(b"host", b"").decode("latin1")
    if not origin:
        return False
    domain, _port = split_domain_port(host)
    own_origin = f"{request_scheme(headers, scope)}://{host}"
    if domain and validate_host(domain, settings.ALLOWED_HOSTS) and origin == own_origin:
        return True
    return trusted(origin)


class OriginValidator:
    """ASGI middleware: refuse a websocket handshake whose Origin is not allowed."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

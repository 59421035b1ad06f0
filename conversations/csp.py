"""A Content-Security-Policy on every response (Django 5.2 has none built in).

The pages load script, styles and images from this site only, run no inline script
(the chat page's data is a `json_script` block: JSON, not script) and carry no inline
styles (markdown sets table alignment as classes). Injected markup therefore cannot run
script or send the conversation anywhere, and no other site may frame the pages.
"""

from functools import wraps

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.deprecation import MiddlewareMixin

from .inline_middleware import InlineMiddlewareMixin

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}


def policy_header(request, overrides: dict) -> str:
    """The header's value for `request`, with a view's `overrides` of some directives."""
    policy = {**POLICY, **overrides}
    try:
        host = request.get_host()
    except DisallowedHost:
        pass
    else:
        # 'self' covers the page's own ws:/wss: origin only in browsers that follow CSP 3;
        # older ones need it named to open the chat's websocket.
        scheme = "wss" if request.is_secure() else "ws"
        policy["connect-src"] += f" {scheme}://{host}"
    return "; ".join(f"{name} {sources}" for name, sources in policy.items())


class ContentSecurityPolicyMiddleware(InlineMiddlewareMixin, MiddlewareMixin):
    """Sets the policy on every response, as loosened by `csp_override` for its view."""

    def process_response(self, request, response):
        # Django's debug error pages are made of inline styles and scripts.
        if settings.DEBUG and response.status_code >= 400:
            return response
        overrides = getattr(response, "csp_overrides", {})
        response.headers.setdefault("Content-Security-Policy", policy_header(request, overrides))
        return response


def csp_override(**directives):
    """A view decorator: these directives (`style_src="'self' 'unsafe-inline'"`) replace
    the policy's for the view's responses."""
    overrides = {name.replace("_", "-"): sources for name, sources in directives.items()}

    def decorate(view):
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response.csp_overrides = overrides
            return response

        return wraps(view)(wrapped)

    return decorate

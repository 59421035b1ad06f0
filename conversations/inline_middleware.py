"""Django's built-in middleware, run on the event loop under ASGI.

Django runs each method of a `MiddlewareMixin` middleware in a thread under ASGI (one hop
to a thread and back per `process_request`, `process_view` and `process_response`),
since a middleware may block. These only read and set headers, cookies and lazy
attributes, so they run inline: a request made 19 hops to a thread and back, now 4
(Django's two request signals, the view, the render of a DRF response). When one of
them does ask the database (a changed session to save), that call alone runs in the
request's thread.
"""

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.middleware.clickjacking import XFrameOptionsMiddleware as _XFrameOptions
from django.middleware.common import CommonMiddleware as _Common
from django.middleware.csrf import CsrfViewMiddleware as _Csrf
from django.middleware.security import SecurityMiddleware as _Security

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class InlineMiddlewareMixin:
    """For a `MiddlewareMixin` middleware whose methods do no I/O: under ASGI they run on
    the event loop (a synchronous server calls them as always). `blocks(request)`, asked
    before each method, says when it will do I/O after all: it then runs in the
    request's thread."""

    def blocks(self, request) -> bool:
        return False

    async def _run(self, method, *args):
        if self.blocks(args[0]):
            return await sync_to_async(method)(*args)
        return method(*args)

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = await self._run(self.process_request, request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self._run(self.process_response, request, response)
        return response


class SecurityMiddleware(InlineMiddlewareMixin, _Security):
    pass


class SessionMiddleware(InlineMiddlewareMixin, _Session):
    def blocks(self, request) -> bool:
        # Saving a changed session writes it to the database.
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(InlineMiddlewareMixin, _Common):
    pass


class CsrfViewMiddleware(InlineMiddlewareMixin, _Csrf):
    def __init__(self, get_response):
        super().__init__(get_response)
        if iscoroutinefunction(self):
            # Django collects `process_view` once the middleware is built, and runs a
            # synchronous one in a thread; an asynchronous one runs as it is.
            self.process_view = self.process_view_inline

    async def process_view_inline(self, request, view_func, view_args, view_kwargs):
        """The check, inline unless it reads a form's body (which may be on disk)."""
        arguments = (request, view_func, view_args, view_kwargs)
        if getattr(view_func, "csrf_exempt", False) or request.method in SAFE_METHODS:
            return super().process_view(*arguments)
        return await sync_to_async(super().process_view)(*arguments)


class AuthenticationMiddleware(InlineMiddlewareMixin, _Authentication):
    pass


class MessageMiddleware(InlineMiddlewareMixin, _Messages):
    def blocks(self, request) -> bool:
        # Messages that outgrow their cookie go into the session, which may load it.
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(InlineMiddlewareMixin, _XFrameOptions):
    pass

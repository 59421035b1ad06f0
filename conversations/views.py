"""Template views: thin, they call selectors and hand JSON to the page's script."""

import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from psycopg_pool import PoolTimeout

from . import openai_wire, selectors
from .asgi_files import attachment_response
from .errors import DatabaseUnavailable, ServerFailed, error_body
from .visitors import private, visited


@login_required
def chat(request, conversation_id=None):
    """The two-pane chat page; with an id, that conversation is open."""
    conversation = None
    if conversation_id is not None:
        conversation = selectors.conversation_get_for_user(user=request.user, id=conversation_id)
    archived = request.GET.get("archived") == "1"
    context = {
        "archived": archived,
        "conversations": selectors.conversation_list_for_user(user=request.user, archived=archived)[
            :100
        ],
        "conversation": conversation,
        "hints": settings.CHAT_HINTS,
        "chat_data": {
            "conversation": selectors.conversation_detail(
                user=request.user, conversation=conversation
            )
            if conversation
            else None,
            "archived": archived,
            # Checked in the page before sending, so a draft over the limit never leaves.
            "limits": {"max_message_chars": settings.CHAT_MAX_MESSAGE_CHARS},
        },
    }
    return render(request, "conversations/chat.html", context)


@login_required
def api_keys(request):
    """The API keys page (its script lists, creates and revokes them through /api/keys/)."""
    v1_url = request.build_absolute_uri("/v1")
    return render(request, "conversations/api_keys.html", {"v1_url": v1_url})


def shared(request, token):
    """A share link: the snapshot, read-only, for anyone with the link."""
    try:
        share = selectors.share_get_public(token=token)
    except Http404:
        return private(render(request, "conversations/shared_missing.html", status=404))
    page = render(
        request,
        "conversations/shared.html",
        {"shared": selectors.share_public_dict(share=share), "token": share.token},
    )
    return visited(request, share, page)


def shared_file(request, token, attachment_id):
    """An upload the shared messages show (their images), for anyone with the link."""
    share = selectors.share_get_public(token=token)
    attachment = selectors.share_attachment_get(share=share, id=attachment_id)
    return private(attachment_response(attachment, request))


def server_error(request):
    """The 500 handler (`handler500`), which Django calls while handling the error. API
    clients get JSON, `{"code", "detail"}` under /api/ and OpenAI's error shape under
    /v1/; pages get a page. A database that is away (not answering, no connection free
    in time) is a 503 saying so; the page then asks nothing of the database (no session
    or user)."""
    database_away = isinstance(sys.exc_info()[1], OperationalError | PoolTimeout)
    error = DatabaseUnavailable() if database_away else ServerFailed()
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body(error), status=error.status)
    if request.path_info.startswith("/v1/"):
        body = openai_wire.error(error.detail, status=error.status, code=error.code)
        return JsonResponse(body, status=error.status)
    if not database_away:
        return defaults.server_error(request)
    return HttpResponse(loader.render_to_string("503.html"), status=error.status)

"""Answers to the visitors of a share link (its page, its JSON and its files): never
cached or indexed, and each visitor counted once."""

from datetime import timedelta

from django.utils.cache import patch_cache_control

from . import services

SEEN_COOKIE = "share_seen"
SEEN_FOR = timedelta(days=365)


def private(response):
    """For whoever holds the link only: no cache keeps it, no search engine lists it."""
    patch_cache_control(response, no_store=True)
    response["X-Robots-Tag"] = "noindex"
    return response


def visited(request, share, response):
    """`response` to a visit of `share`, counted when it is a GET by someone other than
    the owner who has not been here before. A cookie scoped to this link's path remembers
    the visitor, so no session is made for anonymous visitors."""
    first_visit = SEEN_COOKIE not in request.COOKIES
    if request.method == "GET" and first_visit and request.user.id != share.conversation.owner_id:
        services.share_record_view(share=share)
        response.set_cookie(
            SEEN_COOKIE,
            "1",
            max_age=SEEN_FOR,
            path=request.path,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return private(response)

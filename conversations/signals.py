"""Signal receivers: each hands the event to the function that owns it."""

from . import events


def close_sockets_on_logout(sender, request, user, **kwargs):
    """A user logged out: the sockets of the session that did so close."""
    if user is not None and request is not None and request.session.session_key:
        events.send_session_ended(user.pk, request.session.session_key)

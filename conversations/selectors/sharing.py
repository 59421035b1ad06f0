"""Reads of share links: the owner's links, and a shared branch as its visitors see it."""

import re
import uuid

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from ..models import Attachment, Conversation, Message, Share
from ..serialization import iso, message_to_dict
from .conversations import message_path

# What `secrets.token_urlsafe` makes, up to the column's length.
SHARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _is_share_token(token) -> bool:
    """Whether `token` could be one `share_create` made (URL-safe base64): anything else,
    such as text with U+0000 that PostgreSQL cannot even compare, names no share."""
    return SHARE_TOKEN.fullmatch(str(token)) is not None


def share_get_for_user(*, user, token: str) -> Share:
    """One of the user's shares by token; anyone else's is a 404."""
    try:
        if not _is_share_token(token):
            raise Share.DoesNotExist
        # A share whose message was deleted is only staff's record now.
        return Share.objects.select_related("conversation").get(
            token=token, conversation__owner=user, message__isnull=False
        )
    except Share.DoesNotExist:
        raise Http404("No such share.") from None


def share_list_for_user(*, user, active: bool = False) -> QuerySet[Share]:
    """The links the user made, newest first (not those whose message was deleted);
    `active`: only those that still open."""
    shares = Share.objects.filter(conversation__owner=user, message__isnull=False).order_by(
        "-created_at"
    )
    return _still_open(shares) if active else shares


def _still_open(shares: QuerySet[Share]) -> QuerySet[Share]:
    """Neither revoked nor expired."""
    return shares.filter(revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def share_list_for_conversation(*, conversation: Conversation) -> QuerySet[Share]:
    """The conversation's shares, newest first (not those whose message was deleted)."""
    return Share.objects.filter(conversation=conversation, message__isnull=False).order_by(
        "-created_at"
    )


def share_get_public(*, token: str) -> Share:
    """An active share by token: revoked, expired and unknown tokens are all a 404, and so
    is one whose message is gone (deletions revoke their shares; this holds even for a
    share made while its message was being deleted)."""
    share = (
        _still_open(
            Share.objects.select_related("conversation").filter(
                token=str(token), message__isnull=False
            )
        ).first()
        if _is_share_token(token)
        else None
    )
    if share is None:
        raise Http404("This link does not exist, was revoked or has expired.")
    return share


def share_messages(*, share: Share) -> list[Message]:
    """The snapshot: the branch up to the shared message, or only the selected messages."""
    messages = message_path(conversation_id=share.conversation_id, leaf_id=share.message_id)
    if share.selected is not None:
        selected = {str(value) for value in share.selected}
        messages = [message for message in messages if str(message.id) in selected]
    return messages


def share_attachment_get(*, share: Share, id) -> Attachment:
    """An upload of the conversation's owner that the shared messages show (by `file_id`);
    any other id is a 404, so a link opens nothing beyond its snapshot."""
    shown = {
        str(item.data["file_id"]).lower()
        for message in share_messages(share=share)
        for item in message.content_rows
        if item.data.get("file_id")
    }
    try:
        attachment_id = uuid.UUID(str(id))
        if str(attachment_id) not in shown:
            raise Attachment.DoesNotExist
        return Attachment.objects.get(id=attachment_id, owner_id=share.conversation.owner_id)
    except (ValueError, Attachment.DoesNotExist):
        raise Http404("No such file in this shared conversation.") from None


def share_to_dict(share: Share) -> dict:
    return {
        "token": share.token,
        "conversation_id": str(share.conversation_id),
        "message_id": str(share.message_id),
        "title": share.title,
        "selected": share.selected,
        "expires_at": iso(share.expires_at),
        "revoked_at": iso(share.revoked_at),
        "view_count": share.view_count,
        "created_at": iso(share.created_at),
        "active": share.is_active(),
    }


def share_public_dict(*, share: Share) -> dict:
    """What anyone with the link sees: the title and the messages as they were shared,
    no owner data."""
    public_keys = ("id", "role", "status", "model", "content", "references", "created_at")
    messages = [message_to_dict(m, rendered=True) for m in share_messages(share=share)]
    return {
        "title": share.title,
        "shared_at": iso(share.created_at),
        "messages": [{key: message[key] for key in public_keys} for message in messages],
    }

"""What hangs off a conversation besides ratings: share links and uploads."""

import re
import secrets
import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .. import selectors
from ..content import check_upload_size
from ..errors import InvalidShare
from ..models import Attachment, Conversation, Message, Share
from ..serialization import storable
from .locking import lock_message

# Shares


@transaction.atomic
def share_create(
    *,
    conversation: Conversation,
    user,
    message: Message | None = None,
    selected: list | None = None,
    expires_at: datetime | None = None,
) -> Share:
    """A read-only link to the branch up to `message` (default: the current leaf),
    or to a selection of its messages."""
    if message is None:
        message = conversation.current_leaf
    if message is None:
        raise InvalidShare("The conversation is empty: there is nothing to share yet.")
    if message.conversation_id != conversation.id:
        raise InvalidShare("message_id is not a message of this conversation.")
    if selected is not None:
        path = {
            str(node)
            for node in selectors.message_path_ids(
                conversation_id=conversation.id, leaf_id=message.id
            )
        }
        try:
            selected = [str(uuid.UUID(str(value))) for value in selected]
        except ValueError:
            raise InvalidShare("selected must be a list of message ids.") from None
        if not selected or not set(selected) <= path:
            raise InvalidShare("selected must list messages of the branch being shared.")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidShare("expires_at must be in the future.")
    lock_message(message)  # a message deleted meanwhile gets no link: a 404
    return Share.objects.create(
        token=secrets.token_urlsafe(32),
        conversation=conversation,
        created_by=user,
        message=message,
        title=conversation.title,
        selected=selected,
        expires_at=expires_at,
    )


def share_revoke(*, share: Share, reason: str) -> Share:
    """Stop a share link from working, saying why; revoking twice keeps the first time."""
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.revoked_reason = reason
        share.save(update_fields=["revoked_at", "revoked_reason"])
    return share


def shares_revoke_before_delete(*, shares: QuerySet[Share], reason: str) -> None:
    """Revoke `shares` because what they show is about to be deleted: their rows stay,
    revoked, as the record of what was shared (the deletion then empties their links)."""
    shares.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_reason=reason)


def share_delete(*, share: Share) -> None:
    """Remove a share link and its record (staff, from the admin); the link stops working."""
    share.delete()


def share_record_view(*, share: Share) -> None:
    """Count one visit of a share link."""
    Share.objects.filter(id=share.id).update(view_count=F("view_count") + 1)


# Attachments


# A media type as RFC 6838 spells one (`type/subtype`), within the column's 100 characters.
MEDIA_TYPE = re.compile(r"(?=.{3,100}\Z)[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def attachment_create(*, owner, file) -> Attachment:
    """Store an uploaded image or file; messages refer to it by id (`file_id`). The type
    the client declared is served back as a header: one that is not a media type is
    stored as plain bytes (`application/octet-stream`)."""
    check_upload_size(file.size)
    name = storable((file.name or "upload").rsplit("/", 1)[-1][:255])
    content_type = (getattr(file, "content_type", None) or "").lower()
    if not MEDIA_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    return Attachment.objects.create(
        owner=owner, file=file, name=name, content_type=content_type, size=file.size
    )


def attachment_delete(*, attachment: Attachment) -> None:
    """Remove an upload and its stored file; messages that named it keep their text."""
    attachment.file.delete(save=False)
    attachment.delete()

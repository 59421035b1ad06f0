"""Replies as their runner writes them: claim the next queued one, checkpoint what has
arrived, finish, and recover replies whose process died."""

from django.db import transaction
from django.utils import timezone

from ..models import ContentItem, Conversation, Message
from ..serialization import content_item_from_dict, storable
from .messages import UNFINISHED, announce_finished, lock_conversation


def _store_content(reply: Message, content: list[dict]) -> None:
    ContentItem.objects.filter(message=reply).delete()
    ContentItem.objects.bulk_create(
        [content_item_from_dict(item, message=reply, index=i) for i, item in enumerate(content)]
    )


def reply_claim_next(*, conversation_id) -> Message | None:
    """Start the oldest queued reply of the conversation when none is running.

    Returns it, now `in_progress` (the caller runs it), or None. The runner calls this
    when a reply finishes so that the queue drains.
    """
    with transaction.atomic():
        lock_conversation(conversation_id)
        replies = Message.objects.filter(conversation_id=conversation_id, status__in=UNFINISHED)
        if replies.filter(status=Message.Status.IN_PROGRESS).exists():
            return None
        reply = replies.filter(status=Message.Status.QUEUED).order_by("created_at").first()
        if reply is None:
            return None
        reply.status = Message.Status.IN_PROGRESS
        reply.save(update_fields=["status", "updated_at"])
    return reply


def reply_finish(
    *,
    reply_id,
    content: list[dict],
    status: str,
    usage: dict | None = None,
    error: dict | None = None,
) -> Message | None:
    """Store what a reply produced and how it ended, and send its final frame. A reply
    cancelled meanwhile stays `cancelled` (its content is still stored); a deleted one is
    ignored (None)."""
    with transaction.atomic():
        reply = Message.objects.select_for_update().filter(id=reply_id).first()
        if reply is None:
            return None
        if reply.status == Message.Status.CANCELLED:
            status = Message.Status.CANCELLED
        _store_content(reply, content)
        reply.status = status
        reply.usage = usage
        reply.error = storable(error)
        reply.completed_at = reply.completed_at or timezone.now()
        reply.save(update_fields=["status", "usage", "error", "completed_at", "updated_at"])
        Conversation.objects.filter(id=reply.conversation_id).update(updated_at=timezone.now())
        return announce_finished(reply.id)


def reply_checkpoint(*, reply_id, content: list[dict] | None = None) -> bool:
    """Store what a running reply has so far (None: only show it is alive). False once the
    reply stopped running elsewhere (cancelled, deleted): the runner then stops."""
    with transaction.atomic():
        running = Message.objects.filter(id=reply_id, status=Message.Status.IN_PROGRESS)
        if not running.update(updated_at=timezone.now()):
            return False
        if content is not None:
            _store_content(Message(id=reply_id), content)
    return True


def replies_recover_stale(*, older_than) -> list:
    """Mark replies whose runner stopped showing signs of life (a process died) as
    `incomplete`, keeping what was stored. Returns their conversations' ids, whose
    queues the caller drains."""
    cutoff = timezone.now() - older_than
    stale = Message.objects.filter(status=Message.Status.IN_PROGRESS, updated_at__lt=cutoff)
    conversation_ids = []
    for reply_id in stale.values_list("id", flat=True):
        with transaction.atomic():
            reply = stale.select_for_update().filter(id=reply_id).first()
            if reply is None:
                continue
            reply.status = Message.Status.INCOMPLETE
            reply.error = {
                "code": "interrupted",
                "message": "The server stopped while writing this reply; what arrived is kept.",
            }
            reply.completed_at = timezone.now()
            reply.save(update_fields=["status", "error", "completed_at", "updated_at"])
            conversation_ids.append(announce_finished(reply.id).conversation_id)
    return conversation_ids

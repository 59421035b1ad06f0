"""Replies as their runner writes them: claim the next queued one, checkpoint what has
arrived, finish, and recover replies whose process died."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from ..models import ContentItem, Conversation, Message, ServerProcess
from ..serialization import content_item_from_dict, storable
from .messages import UNFINISHED, announce_final, announce_finished, prefetched
from .usage import token_usage_record


def _store_content(
    reply_id, content: list[dict], stored: list[dict] | None, *, final: bool = False
) -> list[ContentItem]:
    """Write a reply's `content` over `stored`, what its runner wrote before (None: not
    known, so all is written anew), and return its rows. New items are inserted, a text
    that grew is appended to, another changed item is updated in its row: a checkpoint
    costs the same however long the reply has grown, and rewrites nothing already stored.
    `final`: the reply has ended, its model text is stored with its HTML in the same
    statements."""
    rows = [
        content_item_from_dict(item, message=Message(id=reply_id), index=index, render=final)
        for index, item in enumerate(content)
    ]
    items = ContentItem.objects.filter(message_id=reply_id)
    if stored is None:
        items.delete()
        return ContentItem.objects.bulk_create(rows)
    before = [
        content_item_from_dict(item, message=Message(id=reply_id), index=index)
        for index, item in enumerate(stored)
    ]
    for row, old in zip(rows, before, strict=False):
        html = {"html": row.html} if final and row.type == ContentItem.Type.OUTPUT_TEXT else {}
        if (row.type, row.text, row.data) == (old.type, old.text, old.data):
            if html:
                items.filter(index=row.index).update(**html)
            continue
        if (row.type, row.data) == (old.type, old.data) and row.text.startswith(old.text):
            grown = Concat(F("text"), Value(row.text[len(old.text) :]))
            items.filter(index=row.index).update(text=grown, **html)
        else:
            items.filter(index=row.index).update(
                type=row.type, text=row.text, data=row.data, **html
            )
    if len(rows) < len(before):
        items.filter(index__gte=len(rows)).delete()
    ContentItem.objects.bulk_create(rows[len(before) :])
    return rows


def reply_claim_next(*, conversation_id, locked: bool = False) -> Message | None:
    """Start the oldest queued reply of the conversation when none is running.

    Returns it, now `in_progress` (the caller runs it), or None. The runner calls this
    when a reply finishes so that the queue drains, in the finish's transaction, which
    holds the conversation's lock (`locked`): its reply, the one that ran, has ended.
    """
    with transaction.atomic(savepoint=False):
        replies = Message.objects.filter(conversation_id=conversation_id, status__in=UNFINISHED)
        if not locked:
            conversations = Conversation.objects.select_for_update().filter(id=conversation_id)
            if not conversations.exists():
                return None  # deleted meanwhile (an unstored /v1 completion, once answered)
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
    stored: list[dict] | None = None,
) -> Message | None:
    """Store what a reply produced and how it ended, and send its final frame. `stored`
    is the content its runner wrote before (see `_store_content`). A reply cancelled
    meanwhile stays `cancelled` (its content is still stored); a deleted one is ignored
    (None)."""
    # No savepoint inside a caller's transaction (the runner's finish): it rolls back whole.
    with transaction.atomic(savepoint=False):
        # The conversation first, as every tree write (a cancel, say) locks it: taking the
        # reply's row first could deadlock with them. Touching it is what locks it.
        conversations = Conversation.objects.filter(messages__id=reply_id)
        if not conversations.update(updated_at=timezone.now()):
            return None
        replies = Message.objects.annotate(owner_id=F("conversation__owner_id"))
        reply = replies.filter(id=reply_id).first()
        if reply is None:
            return None
        if reply.status == Message.Status.CANCELLED:
            status = Message.Status.CANCELLED
        rows = _store_content(reply.id, content, stored, final=True)
        reply.status = status
        reply.usage = usage
        reply.error = storable(error)
        reply.completed_at = reply.completed_at or timezone.now()
        reply.save(update_fields=["status", "usage", "error", "completed_at", "updated_at"])
        token_usage_record(reply=reply, user_id=reply.owner_id, usage=usage)
        # Its final frame from what was just written: a reply has no references (those
        # are what a user quotes).
        prefetched(reply, content=rows, references=[])
        announce_final(reply)
        return reply


def reply_checkpoint(
    *, reply_id, content: list[dict] | None = None, stored: list[dict] | None = None
) -> bool:
    """Store what a running reply has so far over what it `stored` before (`content` None:
    only show it is alive). False once the reply stopped running elsewhere (cancelled,
    deleted): the runner then stops."""
    with transaction.atomic():
        running = Message.objects.filter(id=reply_id, status=Message.Status.IN_PROGRESS)
        if not running.update(updated_at=timezone.now()):
            return False
        if content is not None:
            _store_content(reply_id, content, stored)
    return True


def reply_refuse(*, reply_id) -> Message | None:
    """End a reply that will not run here (the server is shutting down): `incomplete` with
    what it has (nothing, so `failed`), to be asked for again."""
    if not Message.objects.filter(id=reply_id, status=Message.Status.IN_PROGRESS).exists():
        return None  # queued (another process will run it) or already ended
    return reply_finish(
        reply_id=reply_id,
        content=[],
        status=Message.Status.FAILED,
        error={"code": "interrupted", "message": "The server was restarting; try again."},
    )


def server_process_register(*, host: str, pid: int) -> ServerProcess:
    """Record a server process that starts running replies."""
    return ServerProcess.objects.create(host=host[:255], pid=pid)


def server_process_beat(*, process: ServerProcess) -> None:
    """Show that `process` is alive (its replies are not orphans)."""
    ServerProcess.objects.filter(id=process.id).update(heartbeat_at=timezone.now())


def server_process_retire(*, process: ServerProcess) -> None:
    """Forget a process that stopped cleanly (its replies have ended)."""
    ServerProcess.objects.filter(id=process.id).delete()


def reply_attach_runner(*, reply_id, process: ServerProcess | None) -> bool:
    """Record which server process runs the reply (None: it runs outside one), so it is
    recovered if that one dies; False when the reply is no longer in progress."""
    running = Message.objects.filter(id=reply_id, status=Message.Status.IN_PROGRESS)
    return running.update(runner=process) == 1


def replies_recover_stale(*, silent_for, process_silent_for, alive=None) -> list:
    """Mark replies whose runner died as `incomplete`, keeping what was stored: those of a
    server process whose heartbeat stopped `process_silent_for` ago, and those run
    outside a server process that wrote nothing for `silent_for`; never those of the
    `alive` process (the caller's own). Returns the ids of
    conversations whose queues the caller drains: theirs, and those with replies queued
    behind nothing (left by a process that shut down). One transaction when nothing is
    stale, as every few seconds: its reads are one snapshot."""
    with transaction.atomic():
        return _recover_stale(silent_for, process_silent_for, alive)


def _recover_stale(silent_for, process_silent_for, alive) -> list:
    now = timezone.now()
    dead = ServerProcess.objects.filter(heartbeat_at__lt=now - process_silent_for)
    if alive is not None:
        dead = dead.exclude(id=alive.id)
    stale = Message.objects.filter(status=Message.Status.IN_PROGRESS).filter(
        Q(runner__in=dead) | Q(runner__isnull=True, updated_at__lt=now - silent_for)
    )
    conversation_ids = []
    for reply_id in stale.values_list("id", flat=True):
        with transaction.atomic():  # each reply on its own (a savepoint)
            reply = stale.select_for_update(of=("self",)).filter(id=reply_id).first()
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
    # Dead processes are forgotten once nothing of theirs runs (an hour on, to be sure).
    dead.filter(heartbeat_at__lt=now - timedelta(hours=1)).exclude(
        replies__status=Message.Status.IN_PROGRESS
    ).delete()
    running = Message.objects.filter(status=Message.Status.IN_PROGRESS)
    stuck = Message.objects.filter(status=Message.Status.QUEUED).exclude(
        conversation_id__in=running.values("conversation_id")
    )
    return conversation_ids + list(stuck.values_list("conversation_id", flat=True).distinct())

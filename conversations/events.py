"""Announce changes to every open tab of a conversation through the channel layer."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

# The channel-layer message type the consumer handles; the frame is in "event".
EVENT_TYPE = "conversation.event"


def finished_event(message: dict) -> dict:
    """The frame that ends a reply: `message.failed` when it failed or stopped short."""
    failed = message["status"] in ("failed", "incomplete")
    return {"type": "message.failed" if failed else "message.completed", "message": message}


def snapshot_event(message: dict, seq: int) -> dict:
    """The frame that gives a reply as it stands, up to delta `seq` (0: none yet)."""
    return {"type": "message.snapshot", "seq": seq, "message": message}


def conversation_group(conversation_id) -> str:
    """The channel-layer group of one conversation's open sockets."""
    return f"conversation.{conversation_id}"


async def send_event(conversation_id, event: dict) -> None:
    """Send a protocol frame (a dict with `type`) to the conversation's sockets now."""
    await get_channel_layer().group_send(
        conversation_group(conversation_id), {"type": EVENT_TYPE, "event": event}
    )


def send_event_on_commit(conversation_id, event: dict) -> None:
    """Send `event` once the current transaction commits, so no tab hears of a rollback."""
    # Robust: the change is stored; a channel layer that fails costs the tabs this frame
    # (they catch up when their socket reconnects), not the request that made it.
    transaction.on_commit(lambda: async_to_sync(send_event)(conversation_id, event), robust=True)


def reply_group(reply_id) -> str:
    """The channel-layer group of the runner of one reply (sync requests, cancels)."""
    return f"reply.{reply_id}"


def send_to_runner_on_commit(reply_id, message: dict) -> None:
    """Send a control message to the runner of `reply_id`, in whichever process it runs."""
    # Robust: a runner that misses a cancel still sees it at its next checkpoint.
    transaction.on_commit(
        lambda: async_to_sync(get_channel_layer().group_send)(reply_group(reply_id), message),
        robust=True,
    )

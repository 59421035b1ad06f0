"""Every server-to-client frame, built here, and the channel-layer plumbing that sends them.

The websocket sends these frames as JSON text; the SSE stream sends the same frames
as `data:` lines. The README's "Streaming" section lists them. Each reply ends with
exactly one final frame (`message.completed` or `message.failed`), sent by its runner,
or by the cancel of a reply that never ran; no delta follows it.
"""

import asyncio
import concurrent.futures

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils.crypto import salted_hmac

from . import fanout

# The channel-layer message type the consumer handles; the frame is in "event".
EVENT_TYPE = "conversation.event"
FINISHED_TYPES = ("message.completed", "message.failed")
# The longest a synchronous caller waits for a frame to be sent.
SEND_TIMEOUT = 10


# Frames


def conversation_updated(conversation) -> dict:
    """The conversation's title, archive flag or shown branch changed."""
    leaf = conversation.current_leaf_id
    return {
        "type": "conversation.updated",
        "conversation": {
            "id": str(conversation.id),
            "title": conversation.title,
            "archived": conversation.archived,
            "current_leaf_id": str(leaf) if leaf else None,
        },
    }


def message_created(message: dict) -> dict:
    """A message was stored (a reply is created `in_progress` or `queued`)."""
    return {"type": "message.created", "message": message}


def message_updated(message: dict) -> dict:
    """A stored message changed in place: some of its items were taken out."""
    return {"type": "message.updated", "message": message}


def message_deleted(message_ids) -> dict:
    """These messages (a message and its subtree) are gone."""
    return {"type": "message.deleted", "message_ids": [str(node) for node in message_ids]}


# What the OpenAI-compatible and AI SDK streams of a reply say when it is deleted.
REPLY_DELETED = "The reply was deleted while it was being written."


def message_delta(reply_id, item_index: int, item_type: str, delta: str) -> dict:
    """Text added to item `item_index` of a running reply; its runner numbers it (`seq`)."""
    return {
        "type": "message.delta",
        "message_id": str(reply_id),
        "item_index": item_index,
        "item_type": item_type,
        "delta": delta,
    }


def message_snapshot(message: dict, seq: int) -> dict:
    """A reply as it stands, up to delta `seq` (0: none yet)."""
    return {"type": "message.snapshot", "seq": seq, "message": message}


def message_finished(message: dict) -> dict:
    """The frame that ends a reply: `message.failed` when it failed or stopped short."""
    failed = message["status"] in ("failed", "incomplete")
    return {"type": "message.failed" if failed else "message.completed", "message": message}


def pong() -> dict:
    """The answer to a client's `ping`: the socket is alive both ways."""
    return {"type": "pong"}


def error(code: str, detail: str, **extra) -> dict:
    """A request or frame that could not be carried out (`code` as in the REST API)."""
    return {"type": "error", "code": code, "detail": detail, **extra}


# Sending


def conversation_group(conversation_id) -> str:
    """The channel-layer group of one conversation's open sockets."""
    return f"conversation.{conversation_id}"


def _event_message(event: dict) -> dict:
    return {"type": EVENT_TYPE, "event": event}


async def send_event(conversation_id, event: dict) -> None:
    """Send a frame to the conversation's sockets and streams now: those of this process
    directly, those of other processes through the channel layer."""
    await send_events(conversation_id, [event])


async def send_events(conversation_id, frames: list[dict]) -> None:
    """Send frames, in order, as `send_event` does, asking the channel layer once whether
    other processes listen (`fanout.relay`: the frames' way to other processes does not
    hold up the caller)."""
    messages = [_event_message(frame) for frame in frames]
    for message in messages:
        fanout.deliver(conversation_id, message)
    group = conversation_group(conversation_id)
    # A delta is one of many: a socket elsewhere that joined a moment ago catches up on
    # the next. Any other frame comes once, so it asks the layer afresh.
    deltas_only = all(frame["type"] == "message.delta" for frame in frames)
    if fanout.known_others(group, recent_will_do=deltas_only) is False:
        return  # most frames: nothing to relay, known without a trip to Redis

    async def to_other_processes():
        if await fanout.others_listen(group, recent_will_do=deltas_only):
            for message in messages:
                await get_channel_layer().group_send(group, {**message, "origin": fanout.ORIGIN})

    fanout.relay(conversation_id, to_other_processes)


async def send_event_to(conversation_id, channel: str, event: dict) -> None:
    """Send a frame to one socket or stream of the conversation (its channel-layer
    channel), wherever it is: in another process, after the conversation's frames relayed
    before it."""
    message = _event_message(event)
    if not fanout.deliver_to_channel(channel, message):
        # It listens in another process: the frames that follow go there too.
        fanout.note_others(conversation_group(conversation_id))
        fanout.relay(conversation_id, lambda: get_channel_layer().send(channel, message))


def run_from_sync(function, *args):
    """Run the coroutine function `function(*args)` from synchronous code, on the event
    loop of the async code that called that code when there is one, and return its
    result. It waits (frames keep their order), but not forever: a loop that stops
    meanwhile (a server shutting down) would never run it."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or not loop.is_running():
        return async_to_sync(function)(*args)
    future = asyncio.run_coroutine_threadsafe(function(*args), loop)
    try:
        return future.result(timeout=SEND_TIMEOUT)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise


def run_on_commit(function, *args) -> None:
    """Run the coroutine function `function(*args)` (`run_from_sync`) once the current
    transaction commits (at once outside one). Robust: what it tells is stored, so a
    channel layer that fails is logged and costs the listeners the message (they catch
    up later), not the caller that made the change."""
    transaction.on_commit(lambda: run_from_sync(function, *args), robust=True)


def send_event_on_commit(conversation_id, event: dict) -> None:
    """Send `event` once the current transaction commits, so no tab hears of a rollback."""
    send_events_on_commit(conversation_id, [event])


def send_events_on_commit(conversation_id, frames: list[dict]) -> None:
    """Send `frames`, in order, once the current transaction commits: one trip to the
    event loop and one question to the channel layer for them all (tabs that miss them
    catch up when their socket reconnects)."""
    run_on_commit(send_events, conversation_id, frames)


# Runner control: messages to the runner of one reply, in whichever process it runs.

# The channel-layer group of every serving process's control channel: a control message
# for a reply run in another process goes to them all, and the one running it acts.
RUNNERS_GROUP = "replies.runners"

# What a runner is asked: a snapshot sent to the channel `reply_to`, or to stop streaming
# because the reply was cancelled. A process's control channel is also told to stop.
REPLY_SYNC = "reply.sync"
REPLY_CANCEL = "reply.cancel"
REPLY_STOP = "reply.stop"


def reply_control(kind: str, reply_id=None, **fields) -> dict:
    """A control message of type `kind` (one of the REPLY_* types) for the runner of
    `reply_id`."""
    return {"type": kind, "reply_id": str(reply_id) if reply_id else None, **fields}


# Session control: messages to the sockets of one user, in whichever process they run.


def user_group(user_id) -> str:
    """The channel-layer group of one user's open sockets, in all their sessions."""
    return f"user.{user_id}"


# The session named by its digest has ended (logged out): its sockets close.
SESSION_ENDED = "session.ended"


def session_digest(session_key: str) -> str:
    """Names a session in channel-layer messages without sending its key, a credential."""
    return salted_hmac("conversations.events.session_digest", session_key).hexdigest()


def send_session_ended(user_id, session_key: str) -> None:
    """Tell the sockets of `user_id` that the session `session_key` ended."""
    # Robust: a logout works with the channel layer down; the sockets then find out at
    # their next frame, which checks the session.
    message = {"type": SESSION_ENDED, "session": session_digest(session_key)}
    run_on_commit(_send_to_group, user_group(user_id), message)


async def _send_to_group(group: str, message: dict) -> None:
    await fanout.layer_call(get_channel_layer().group_send(group, message))

"""The websocket of one conversation: thin, it validates frames, calls services and starts
replies through `generation.reply_start`. The protocol is in the README's "Streaming"."""

import asyncio
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import transaction
from django.http import Http404
from rest_framework.exceptions import ValidationError

from . import events, fanout, generation, selectors, services
from .db import run_step
from .errors import ConversationError, error_body, validation_error_body
from .inputs import (
    CreateFrameSerializer,
    EditFrameSerializer,
    MessageIdSerializer,
    ResetFrameSerializer,
    SyncSerializer,
    parse_json,
    validated,
)
from .models import Message
from .outages import Outage
from .reply_tasks import LAYER_RETRY_DELAY
from .throttling import check_generation_rate

logger = logging.getLogger(__name__)

# The close code of a socket whose session ended (4000-4999 are the application's; 401
# as in HTTP). The page then reloads, which leads to the login page.
LOGGED_OUT_CLOSE_CODE = 4401

# The sockets' channel layer (Redis with REDIS_URL). Without it a socket still works for
# its own page; it hears nothing from elsewhere until the layer is back (the page's sync
# recovers what it missed).
_layer_outage = Outage(
    logger,
    failed="The channel layer failed: sockets hear nothing from elsewhere until it is back.",
    back="The channel layer is back: sockets hear the other tabs and processes again.",
)


class SessionEnded(Exception):
    """The socket's session no longer logs its user in."""


class ConversationConsumer(AsyncJsonWebsocketConsumer):
    conversation = None

    async def __call__(self, scope, receive, send):
        # Refused before Channels gives the socket a channel-layer channel: the pending
        # receive on it, cancelled when a refused socket ends, can hang in channels-redis,
        # and the server's shutdown waits on it for good.
        self.conversation = await self.conversation_of(scope)
        if self.conversation is None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close"})
            return
        # The frames of this process come straight into the inbox, those of others
        # through the channel layer (`fanout`).
        self.inbox = fanout.Inbox()
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.stop_listening()
            await self.inbox.close()

    @staticmethod
    async def conversation_of(scope):
        """The conversation of the socket's URL when its user may open it, else None (the
        same refusal for anonymous users, other users' and unknown conversations)."""
        user = scope["user"]
        if not user.is_authenticated:
            return None
        try:
            return await run_step(
                selectors.conversation_get_for_user,
                user=user,
                id=scope["url_route"]["kwargs"]["conversation_id"],
            )
        except Http404:
            return None

    async def connect(self):
        # The conversation's changes, and the user's logouts; Channels leaves these groups
        # on disconnect.
        self.groups = [
            events.conversation_group(self.conversation.id),
            events.user_group(self.scope["user"].pk),
        ]
        fanout.listen(self.inbox, self.conversation.id, self.channel_name)
        await self.join_groups()
        await self.accept()

    def stop_listening(self) -> None:
        # No channel name when Channels failed before it made one.
        fanout.forget(self.inbox, self.conversation.id, getattr(self, "channel_name", None))

    async def join_groups(self) -> None:
        """Join this socket's groups; with the channel layer down, `receive_from_layer`
        joins them once it is back."""
        try:
            for group in self.groups:
                await fanout.layer_call(self.channel_layer.group_add(group, self.channel_name))
        except Exception:  # whatever the layer raises when Redis is away
            _layer_outage.began()
        else:
            _layer_outage.ended()

    async def leave_groups(self):
        self.stop_listening()
        try:
            for group in self.groups:
                await fanout.layer_call(self.channel_layer.group_discard(group, self.channel_name))
        except Exception:  # the layer is down: its groups forget this channel as they expire
            _layer_outage.began()
        self.groups = []

    async def websocket_disconnect(self, message):
        # Channels leaves the groups too, but fails when the layer is down.
        await self.leave_groups()
        await super().websocket_disconnect(message)

    # Channels reads the channel layer through `channel_receive` (and ends the socket when
    # a read fails); this socket reads its inbox, which the layer feeds, and waits for the
    # layer when it fails.
    @property
    def channel_receive(self):
        return self.next_message

    @channel_receive.setter
    def channel_receive(self, layer_receive):
        self.layer_receive = layer_receive

    async def next_message(self) -> dict:
        self.inbox.follow(self.receive_from_layer)
        return await self.inbox.get()

    async def receive_from_layer(self) -> dict:
        """The next message from the channel layer; while the layer is down, try again
        now and then, joining the groups afresh (Redis may have lost them)."""
        while True:
            try:
                return await self.layer_receive()
            except Exception:
                _layer_outage.began()
            await asyncio.sleep(LAYER_RETRY_DELAY)
            await self.join_groups()

    async def step(self, function, /, *args, **kwargs):
        """Run `function` on a database worker thread once the socket's session is found
        to still log its user in (SessionEnded if not), in the same hop: the first step of
        every frame but a ping. A logout elsewhere may not have reached this socket (a
        channel layer that was down), and a session also ends by expiry or a password
        change: the scope holds the session as it was at connect."""
        return await run_step(self._logged_in_then, function, args, kwargs)

    def _logged_in_then(self, function, args, kwargs):
        # One transaction with what the step writes (a turn), not one more of its own.
        with transaction.atomic():
            session_key = self.scope["session"].session_key
            if selectors.session_user_id(session_key=session_key) != self.scope["user"].pk:
                raise SessionEnded()
            return function(*args, **kwargs)

    async def end_session(self):
        """Say the session has ended and close, hearing nothing more meanwhile."""
        await self.leave_groups()
        await self.send_error("not_authenticated", "You have been logged out; log in again.")
        await self.close(code=LOGGED_OUT_CLOSE_CODE)

    async def session_ended(self, message):
        """A session of this socket's user ended (a logout): close if it is this one's."""
        if message["session"] == events.session_digest(self.scope["session"].session_key):
            await self.end_session()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            frame = parse_json(text_data or "")
        except ValueError as exc:
            await self.send_error("invalid_json", f"Frames must be JSON text: {exc}.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("invalid_frame", 'A frame is a JSON object with a "type".')
            return
        handler = self.frame_handlers.get(frame["type"])
        if handler is None:
            known = ", ".join(sorted(self.frame_handlers))
            await self.send_error(
                "unknown_type", f"Unknown frame type {frame['type']!r}; use {known}."
            )
            return
        # A refused message says which one it was: its error frame carries the frame's
        # idempotency_key, so the page can give the draft back.
        key = frame.get("idempotency_key")
        answering = {"idempotency_key": key} if key and isinstance(key, str) else {}
        try:
            await getattr(self, handler)(frame)
        except SessionEnded:
            await self.end_session()
        except ValidationError as exc:
            await self.send_json(events.error(**validation_error_body(exc.detail), **answering))
        except (ConversationError, Http404) as exc:
            await self.send_json(events.error(**error_body(exc), **answering))

    async def send_error(self, code: str, detail: str):
        await self.send_json(events.error(code, detail))

    async def dispatch(self, message):
        # Frames passed on touch no database: they skip Channels' check of the thread's
        # database connections before each message, a hop to a worker thread per frame.
        if message["type"] == events.EVENT_TYPE:
            await self.conversation_event(message)
        else:
            await super().dispatch(message)

    async def conversation_event(self, message):
        """A change announced by a service or a running reply: pass it on as it is."""
        await self.send_json(message["event"])

    # Client frames (the README's "Streaming" section) and the methods that handle them.
    frame_handlers = {
        "message.create": "create_message",
        "message.edit": "edit_message",
        "message.reset": "reset_message",
        "generation.cancel": "cancel_generation",
        "branch.switch": "switch_branch",
        "sync": "sync",
        "ping": "pong",
    }

    async def pong(self, frame):
        """Answer a heartbeat: the page drops a socket that stops answering (a dead
        network closes nothing) and reconnects."""
        await self.send_json(events.pong())

    async def get_message(self, message_id) -> Message:
        """A message of this socket's conversation; any other id is not found."""
        return await self.step(self._message_of, message_id)

    def _message_of(self, message_id) -> Message:
        message = selectors.message_get_for_user(user=self.scope["user"], id=message_id)
        if message.conversation_id != self.conversation.id:
            raise Http404("No such message in this conversation.")
        return message

    async def start_turn(self, service, message_id=None, **fields) -> None:
        """Store a turn through `service` (given the message `message_id` of this
        conversation, if any) within the user's reply rate, in one step, and start its
        reply. The reply runs on its own: the handler returns at once."""
        reply, created = await self.step(self._turn, service, message_id, fields)
        await generation.reply_start(reply, created=created)

    def _turn(self, service, message_id, fields):
        if message_id is not None:
            fields["message"] = self._message_of(message_id)
        check_generation_rate(self.scope["user"])
        return service(**fields)

    async def create_message(self, frame):
        data = validated(CreateFrameSerializer, frame)
        await self.start_turn(
            services.message_continue,
            owner=self.scope["user"],
            conversation_id=self.conversation.id,
            content=data["content"],
            parent_id=data.get("parent_id"),
            references=data.get("references"),
            attachments=data["attachments"],
            idempotency_key=data["idempotency_key"],
            model=data["model"],
        )

    async def edit_message(self, frame):
        data = validated(EditFrameSerializer, frame)
        await self.start_turn(
            services.message_edit,
            data["message_id"],
            content=data["content"],
            references=data.get("references"),
            attachments=data["attachments"],
            idempotency_key=data["idempotency_key"],
            model=data["model"],
        )

    async def reset_message(self, frame):
        data = validated(ResetFrameSerializer, frame)
        await self.start_turn(services.message_reset, data["message_id"], model=data["model"])

    async def cancel_generation(self, frame):
        message_id = validated(MessageIdSerializer, frame)["message_id"]
        await self.step(lambda: services.message_cancel(message=self._message_of(message_id)))

    async def switch_branch(self, frame):
        message_id = validated(MessageIdSerializer, frame)["message_id"]
        await self.step(
            lambda: services.conversation_switch_branch(
                conversation=self.conversation, message=self._message_of(message_id)
            )
        )

    async def sync(self, frame):
        """Catch up on a reply: its runner answers with a snapshot; a queued reply is
        sent as it stands (a snapshot at seq 0), a finished one as its end frame."""
        message = await self.get_message(validated(SyncSerializer, frame)["message_id"])
        if message.status == Message.Status.IN_PROGRESS:
            await generation.request_sync(message.id, self.channel_name)
            return
        stored = await run_step(
            selectors.message_dict_for_user, user=self.scope["user"], message_id=message.id
        )
        if stored["status"] == Message.Status.QUEUED:
            await self.send_json(events.message_snapshot(stored, seq=0))
        else:
            await self.send_json(events.message_finished(stored))

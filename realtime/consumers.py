"""The one websocket endpoint, `/ws/` (DESIGN.md §6).

The consumer is thin: it authenticates, parses `{"type", "ref", "data"}`, hands each
command to the handler registered for it, and forwards event text unchanged. It never
writes models; handlers call services.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from accounts.models import User

from . import commands
from .auth import user_for_access_token
from .envelope import LAYER_EVENT, LAYER_REVOKE, reply_text
from .groups import admins_group, user_group
from .streams import Replay, events_between, last_seq, replay_after

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
MAX_MESSAGE_CHARS = 64 * 1024
# How long a kept event waits for an earlier one before that one is read from the log.
GAP_WAIT_S = 0.5


class GatewayConsumer(AsyncWebsocketConsumer):
    user: User
    state: dict[str, Any]

    def __init__(self) -> None:
        super().__init__()
        self.state = {}
        self.is_authenticated = False
        # Events reach the client only after `session.ready`, and never after a close.
        self.is_ready = False
        self.is_closed = False
        self.joined: set[str] = set()
        self.session_key: str | None = None
        self.deadline: asyncio.TimerHandle | None = None
        # Kept events leave in seq order without gaps: `floor` is the last seq delivered
        # (or known to the client at session.ready); later ones wait in `held` until the
        # gap before them is filled, by the layer or, after GAP_WAIT_S, from the log.
        self.floor = 0
        self.held: dict[int, str] = {}
        self.gap_timer: asyncio.TimerHandle | None = None
        self.is_replaying = False
        # Events up to here were never sent on this socket: what `resume` may replay.
        self.unsent_through = 0
        self.forwarder: asyncio.Future[None] | None = None
        self.is_waiting_for_layer = False

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_active:
            self.session_key = self.scope["session_key"]
            await self.start_session(user, expires_at=None)
        else:
            self.deadline = asyncio.get_running_loop().call_later(
                settings.REALTIME_AUTH_TIMEOUT_S, self.close_unauthorized
            )

    async def disconnect(self, code: int) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        if self.gap_timer is not None:
            self.gap_timer.cancel()
        for group in tuple(self.joined):
            await self.leave_group(group)
        if self.is_authenticated:
            for hook in commands.disconnect_hooks():
                try:
                    await hook(self)
                except Exception:
                    logger.exception("disconnect hook %s failed", getattr(hook, "__name__", hook))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Runs the socket: client messages in one loop, channel-layer messages in another.

        Channels' own loop (`await_many_dispatch`) waits on both with `asyncio.wait` and
        makes a new task for every message: a third of the server's CPU in a fan-out to
        1 000 sockets. Here each source has one long-lived reader. Client messages are
        still handled one at a time, in order; a layer event may now be handled while a
        command awaits the database, which `resume` and `start_session` allow for (the
        held/floor bookkeeping), and nothing else that events touch is shared.
        """
        self.scope = scope
        self.channel_layer = get_channel_layer()
        self.channel_name = await self.channel_layer.new_channel()
        self.base_send = send
        self.forwarder = asyncio.ensure_future(self.forward_layer_messages())
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            await self.stop_forwarding()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Events stop before the clean-up: nothing is sent to a gone client, and no gap
        # timer is armed again behind `disconnect`.
        self.is_closed = True
        await self.stop_forwarding()
        await super().websocket_disconnect(message)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        await super().close(code=code, reason=reason)

    async def forward_layer_messages(self) -> None:
        while True:
            self.is_waiting_for_layer = True
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except Exception:
                # The layer itself failed (Redis gone, with the core layer): the client
                # reconnects, resumes and gets what it missed from the log.
                logger.exception("gateway: the channel layer failed; closing the socket")
                with contextlib.suppress(Exception):
                    await self.close(code=1011)
                return
            self.is_waiting_for_layer = False
            try:
                if message["type"] == LAYER_EVENT:
                    # No DB-connection housekeeping here (unlike Channels' dispatch):
                    # forwarding touches no database, and that hop to the DB thread
                    # was half the server's CPU in a fan-out.
                    await self.rt_event(message)
                elif message["type"] == LAYER_REVOKE:
                    await self.rt_revoke(message)
                else:
                    logger.warning("gateway: unknown layer message %r", message["type"])
            except OSError:
                # The client went away (uvicorn's ClientDisconnected); its disconnect
                # message is on its way to the receive loop.
                self.is_closed = True
            except Exception:
                if not self.is_closed:
                    # A socket that cannot forward events must not look alive.
                    logger.exception("gateway: forwarding an event failed; closing the socket")
                    with contextlib.suppress(Exception):
                        await self.close(code=1011)
                # Keep draining until stopped, so the layer's queue for this socket
                # does not grow; nothing more is sent once closed.

    async def stop_forwarding(self) -> None:
        """Stops the layer reader and makes the layer forget this socket's channel.

        The pub/sub layer drops a channel (its queue and its Redis subscription) only
        when a `receive` on it is cancelled while waiting. If the reader was stopped
        in the middle of an event instead, one more waiting `receive` is cancelled.
        """
        forwarder, self.forwarder = self.forwarder, None
        if forwarder is None:
            return
        was_waiting = self.is_waiting_for_layer
        forwarder.cancel()
        await asyncio.gather(forwarder, return_exceptions=True)
        if was_waiting:
            return
        while True:
            receiving = asyncio.ensure_future(self.channel_layer.receive(self.channel_name))
            await asyncio.sleep(0)
            if not receiving.done():
                receiving.cancel()
                await asyncio.gather(receiving, return_exceptions=True)
                return
            # An event was queued behind the one being forwarded: drop it and retry.

    # --- Connection protocol used by command handlers ----------------------------------

    async def join_group(self, group: str) -> None:
        if group not in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.add(group)

    async def leave_group(self, group: str) -> None:
        if group in self.joined:
            self.joined.discard(group)
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send_text(self, text: str) -> None:
        await self.send(text_data=text)

    # --- session -----------------------------------------------------------------------

    def close_unauthorized(self) -> None:
        self.closing = asyncio.ensure_future(self.close(code=CLOSE_UNAUTHORIZED))

    async def start_session(self, user: User, expires_at: float | None) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        self.user = user
        # Join before reading last_seq: an event committed in between is then both
        # delivered and above the floor, never lost.
        await self.join_group(user_group(user.pk))
        if user.is_platform_admin:
            await self.join_group(admins_group())
        self.floor = self.unsent_through = await database_sync_to_async(last_seq)(user.pk)
        self.is_authenticated = True
        if expires_at is not None:
            self.deadline = asyncio.get_running_loop().call_later(
                max(0.0, expires_at - time.time()), self.close_unauthorized
            )
        await commands.run_session_start_hooks(self)
        if self.is_closed:  # logged out or expired while the hooks ran
            return
        # Kept events that arrived meanwhile wait in `held`: sent before session.ready,
        # one would raise the client's last seq past events it has not seen, and its
        # `resume` would skip those.
        await self.send(
            text_data=reply_text(
                {"type": "session.ready", "data": {"user_id": user.pk, "last_seq": self.floor}}
            )
        )
        self.is_ready = True
        await self.deliver_held()

    async def authenticate(self, message: dict[str, Any]) -> None:
        identity = await database_sync_to_async(user_for_access_token)(message.get("token"))
        if identity is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        await self.start_session(identity.user, identity.expires_at)

    # --- client → server ---------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.reply_error(None, "bad_request", "Send JSON text frames.")
            return
        if len(text_data) > MAX_MESSAGE_CHARS:
            await self.reply_error(None, "too_large", "The message is larger than 64 KiB.")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.reply_error(None, "bad_request", "The message is not valid JSON.")
            return
        if not isinstance(message, dict):
            await self.reply_error(None, "bad_request", "The message must be a JSON object.")
            return
        kind = message.get("type")
        if not self.is_authenticated:
            if kind == "auth":
                await self.authenticate(message)
            else:
                await self.close(code=CLOSE_UNAUTHORIZED)
            return
        ref = message.get("ref")
        if ref is not None and not isinstance(ref, str | int):
            await self.reply_error(None, "bad_request", "'ref' must be a string or a number.")
            return
        data = message.get("data", {})
        if not isinstance(data, dict):
            await self.reply_error(ref, "invalid", "'data' must be a JSON object.")
            return
        await self.run_command(kind, ref, data)

    async def run_command(self, kind: object, ref: str | int | None, data: dict[str, Any]) -> None:
        ack: Mapping[str, Any] | None
        try:
            if kind == "resume":
                ack = await self.resume(commands.non_negative_int(data, "since_seq"))
            elif kind == "auth":
                raise commands.CommandError("bad_request", "This socket is signed in already.")
            else:
                handler = commands.get_handler(kind) if isinstance(kind, str) else None
                if handler is None:
                    raise commands.CommandError("unknown_command", f"Unknown command {kind!r}.")
                ack = await handler(self, data)
        except commands.CommandError as error:
            await self.reply_error(ref, error.code, error.message)
        except Exception:
            logger.exception("websocket command %r failed for user %s", kind, self.user.pk)
            await self.reply_error(ref, "server_error", "The server could not run this command.")
        else:
            await self.send(text_data=reply_text({"type": "ack", "ref": ref, "data": ack or {}}))

    async def reply_error(self, ref: object, code: str, message: str) -> None:
        await self.send(
            text_data=reply_text({"type": "error", "ref": ref, "code": code, "message": message})
        )

    async def resume(self, since_seq: int) -> dict[str, Any]:
        """Replays the kept events after `since_seq` that this socket has not sent.

        Live events that arrive meanwhile wait, so the client sees the replay first.
        """
        self.is_replaying = True
        try:
            replay: Replay = await database_sync_to_async(replay_after)(
                self.user.pk, since_seq, through=self.unsent_through
            )
            if replay.resync_required:
                return {"resync_required": True}
            for _, text in replay.events:
                await self.send(text_data=text)
            self.unsent_through = min(self.unsent_through, since_seq)
            return {"replayed": len(replay.events)}
        finally:
            self.is_replaying = False
            await self.deliver_held()

    # --- server → client (channel layer) -----------------------------------------------

    async def rt_event(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if seq is None:
            if self.is_ready and not self.is_closed:
                await self.send(text_data=message["text"])
            return
        if seq <= self.floor:
            return
        self.held[seq] = message["text"]
        if not self.is_replaying:
            await self.deliver_held()

    async def deliver_held(self) -> None:
        if not self.is_ready or self.is_closed:
            return
        while (text := self.held.pop(self.floor + 1, None)) is not None:
            self.floor += 1
            await self.send(text_data=text)
        for stale in [seq for seq in self.held if seq <= self.floor]:
            del self.held[stale]
        if not self.held and self.gap_timer is not None:
            self.gap_timer.cancel()
            self.gap_timer = None
        elif self.held and self.gap_timer is None:
            self.gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT_S, self.fill_gap_soon)

    def fill_gap_soon(self) -> None:
        self.gap_timer = None
        self.filling = asyncio.ensure_future(self.fill_gap())

    async def fill_gap(self) -> None:
        """An earlier event is late or was dropped by the layer: read it from the log."""
        if not self.held or self.is_replaying:
            return
        missing = await database_sync_to_async(events_between)(
            self.user.pk, self.floor, max(self.held)
        )
        for seq, text in missing:
            if seq > self.floor:
                self.held.setdefault(seq, text)
        if self.held and self.floor + 1 not in self.held:
            # Trimmed from the log too (older than the keep window): skip the hole.
            logger.warning("user %s: kept events %s.. are gone", self.user.pk, self.floor + 1)
            self.floor = min(self.held) - 1
        await self.deliver_held()

    async def rt_revoke(self, message: dict[str, Any]) -> None:
        if self.session_key is not None and message.get("session_key") == self.session_key:
            await self.close(code=CLOSE_UNAUTHORIZED)

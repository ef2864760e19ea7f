"""The one websocket endpoint, `/ws/` (DESIGN.md §6).

The consumer is thin: it authenticates, parses `{"type", "ref", "data"}`, hands each
command to the handler registered for it, and forwards event text unchanged. It never
writes models; handlers call services.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import User

from . import commands
from .auth import user_for_access_token
from .envelope import reply_text
from .groups import admins_group, user_group
from .streams import Replay, last_seq, replay_after

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
MAX_MESSAGE_CHARS = 64 * 1024
# Live kept events sent before the first `resume` are remembered so that the replay
# skips them; past this many the client is told to resync instead.
MAX_TRACKED_LIVE = 1000


class GatewayConsumer(AsyncWebsocketConsumer):
    user: User
    state: dict[str, Any]

    async def connect(self) -> None:
        self.state = {}
        self.is_authenticated = False
        self.joined: set[str] = set()
        self.session_key: str | None = None
        self.deadline: asyncio.TimerHandle | None = None
        # Replay bookkeeping: events with seq <= floor are known to the client already.
        self.floor = 0
        self.is_replaying = False
        self.held: list[tuple[int, str]] = []
        self.live_before_resume: set[int] | None = set()
        await self.accept()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_active:
            self.session_key = self.scope["session"].session_key
            await self.start_session(user, expires_at=None)
        else:
            self.deadline = asyncio.get_running_loop().call_later(
                settings.REALTIME_AUTH_TIMEOUT_S, self.close_unauthorized
            )

    async def disconnect(self, code: int) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        for group in tuple(self.joined):
            await self.leave_group(group)
        if self.is_authenticated:
            for hook in commands.disconnect_hooks():
                try:
                    await hook(self)
                except Exception:
                    logger.exception("disconnect hook %s failed", getattr(hook, "__name__", hook))

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
        self.floor = await database_sync_to_async(last_seq)(user.pk)
        self.is_authenticated = True
        if expires_at is not None:
            self.deadline = asyncio.get_running_loop().call_later(
                max(0.0, expires_at - time.time()), self.close_unauthorized
            )
        await commands.run_session_start_hooks(self)
        await self.send(
            text_data=reply_text(
                {"type": "session.ready", "data": {"user_id": user.pk, "last_seq": self.floor}}
            )
        )
        await self.flush_held()

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
        self.is_replaying = True
        try:
            replay: Replay = await database_sync_to_async(replay_after)(self.user.pk, since_seq)
            already_sent = self.live_before_resume
            self.live_before_resume = None
            if replay.resync_required or (already_sent is None and since_seq < self.floor):
                # A second resume below what this socket has already delivered would
                # duplicate events: the client must rebuild from REST instead.
                self.floor = max(self.floor, replay.head)
                return {"resync_required": True}
            replayed = 0
            for seq, text in replay.events:
                if already_sent and seq in already_sent:
                    continue
                await self.send(text_data=text)
                replayed += 1
            self.floor = max(self.floor, replay.head)
            return {"replayed": replayed}
        finally:
            self.is_replaying = False
            await self.flush_held()

    # --- server → client (channel layer) -----------------------------------------------

    async def rt_event(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if seq is None:
            if self.is_authenticated:
                await self.send(text_data=message["text"])
            return
        if not self.is_authenticated or self.is_replaying:
            self.held.append((seq, message["text"]))
            return
        await self.send_kept(seq, message["text"])

    async def send_kept(self, seq: int, text: str) -> None:
        if seq <= self.floor:
            return
        if self.live_before_resume is not None:
            if len(self.live_before_resume) >= MAX_TRACKED_LIVE:
                self.live_before_resume = None
            else:
                self.live_before_resume.add(seq)
        await self.send(text_data=text)

    async def flush_held(self) -> None:
        held, self.held = self.held, []
        for seq, text in sorted(held):
            await self.send_kept(seq, text)

    async def rt_revoke(self, message: dict[str, Any]) -> None:
        if self.session_key is not None and message.get("session_key") == self.session_key:
            await self.close(code=CLOSE_UNAUTHORIZED)

"""Websocket commands of chat: `chat.join`, `chat.leave`, `chat.send`, `chat.typing`,
`chat.read` (DESIGN.md §6).

Messages and read receipts are kept events to each participant's `user.<id>` group, so
every tab gets them and `resume` replays them. `chat.<id>` carries only the ephemeral
`chat.typing`, which is why joining it is what marks a socket as "reading live".

Typing state lives in the socket: a timer per conversation being typed in. Only
transitions are broadcast, plus a "still typing" refresh at most every
`TYPING_REFRESH_S`; the indicator stops by itself `TYPING_TTL_S` after the last
keystroke report, when a message is sent, or when the socket closes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.http import Http404

from realtime.commands import (
    Ack,
    CommandData,
    CommandError,
    Connection,
    boolean,
    command,
    non_negative_int,
    not_found,
    on_disconnect,
    positive_int,
)
from realtime.groups import chat_group
from realtime.publish import apublish_rollback_unsafe

from . import live, services
from .events import message_data, typing_data

TYPING_TTL_S = 6.0
TYPING_REFRESH_S = 3.0

# conn.state keys (the socket's per-app state)
_JOINED = "chat.joined"  # conversation ids whose chat.<id> group this socket joined
_ALLOWED = "chat.allowed"  # conversation ids this socket has been let into
_TYPING = "chat.typing"  # conversation id -> _Typing


@dataclass(slots=True)
class _Typing:
    timer: asyncio.TimerHandle
    sent_at: float


def _joined(conn: Connection) -> set[int]:
    return conn.state.setdefault(_JOINED, set())


def _allowed(conn: Connection) -> set[int]:
    return conn.state.setdefault(_ALLOWED, set())


def _typing(conn: Connection) -> dict[int, _Typing]:
    return conn.state.setdefault(_TYPING, {})


def _invalid(error: services.InvalidChatInput) -> CommandError:
    return CommandError(error.code, error.message)


@command("chat.join")
async def join(conn: Connection, data: CommandData) -> Ack:
    conversation_id = positive_int(data, "conversation_id")
    try:
        conversation = await database_sync_to_async(services.join_conversation)(
            actor=conn.user, conversation_id=conversation_id, channel_name=conn.channel_name
        )
    except Http404:
        raise not_found("conversation") from None
    await conn.join_group(chat_group(conversation_id))
    _joined(conn).add(conversation_id)
    _allowed(conn).add(conversation_id)
    return {"conversation_id": conversation_id, "last_seq": conversation.last_seq}


@command("chat.leave")
async def leave(conn: Connection, data: CommandData) -> Ack:
    conversation_id = positive_int(data, "conversation_id")
    if conversation_id in _joined(conn):
        await _stop_typing(conn, conversation_id)
        _joined(conn).discard(conversation_id)
        await conn.leave_group(chat_group(conversation_id))
        await sync_to_async(live.mark_gone, thread_sensitive=False)(
            [conversation_id], conn.user.pk, conn.channel_name
        )
    return {"conversation_id": conversation_id}


def _send_and_refresh(conn: Connection, conversation_id: int, body: Any, client_id: Any) -> Any:
    sent = services.send_message(
        actor=conn.user, conversation_id=conversation_id, body=body, client_id=client_id
    )
    if conversation_id in _joined(conn):
        live.mark_live(conversation_id, conn.user.pk, conn.channel_name)
    return sent


@command("chat.send")
async def send(conn: Connection, data: CommandData) -> Ack:
    conversation_id = positive_int(data, "conversation_id")
    try:
        body = services.validate_body(data.get("body"))
        client_id = services.validate_client_id(data.get("client_id"))
        sent = await database_sync_to_async(_send_and_refresh)(
            conn, conversation_id, body, client_id
        )
    except services.InvalidChatInput as error:
        raise _invalid(error) from None
    except Http404:
        raise not_found("conversation") from None
    _allowed(conn).add(conversation_id)
    await _stop_typing(conn, conversation_id)
    return {"message": message_data(sent.message), "is_repeat": sent.is_repeat}


def _read_and_refresh(conn: Connection, conversation_id: int, seq: int) -> services.ReadResult:
    result = services.mark_read(actor=conn.user, conversation_id=conversation_id, seq=seq)
    if conversation_id in _joined(conn):
        live.mark_live(conversation_id, conn.user.pk, conn.channel_name)
    return result


@command("chat.read")
async def read(conn: Connection, data: CommandData) -> Ack:
    conversation_id = positive_int(data, "conversation_id")
    seq = non_negative_int(data, "seq")
    try:
        result = await database_sync_to_async(_read_and_refresh)(conn, conversation_id, seq)
    except Http404:
        raise not_found("conversation") from None
    _allowed(conn).add(conversation_id)
    return {
        "conversation_id": result.conversation_id,
        "seq": result.seq,
        "unread_count": result.unread_count,
    }


@command("chat.typing")
async def typing(conn: Connection, data: CommandData) -> Ack:
    conversation_id = positive_int(data, "conversation_id")
    is_typing = boolean(data, "is_typing")
    if conversation_id not in _allowed(conn):
        # Keystrokes are frequent: the database is asked once per socket and conversation.
        try:
            await database_sync_to_async(services.check_participant)(
                actor=conn.user, conversation_id=conversation_id
            )
        except Http404:
            raise not_found("conversation") from None
        _allowed(conn).add(conversation_id)
    if not is_typing:
        is_sent = await _stop_typing(conn, conversation_id)
        return {"conversation_id": conversation_id, "is_typing": False, "is_sent": is_sent}
    states = _typing(conn)
    current = states.pop(conversation_id, None)
    if current is not None:
        current.timer.cancel()
    now = time.monotonic()
    is_sent = current is None or now - current.sent_at >= TYPING_REFRESH_S
    loop = asyncio.get_running_loop()
    timer = loop.call_later(TYPING_TTL_S, _expire_typing, conn, conversation_id)
    states[conversation_id] = _Typing(timer, now if is_sent else current.sent_at)  # type: ignore[union-attr]
    if is_sent:
        await apublish_rollback_unsafe(
            chat_group(conversation_id),
            "chat.typing",
            typing_data(conversation_id, conn.user, is_typing=True),
        )
    return {"conversation_id": conversation_id, "is_typing": True, "is_sent": is_sent}


def _expire_typing(conn: Connection, conversation_id: int) -> None:
    task = asyncio.ensure_future(_stop_typing(conn, conversation_id))
    # Hold a reference until it finishes: the loop keeps only weak ones.
    pending: set[asyncio.Future[bool]] = conn.state.setdefault("chat.tasks", set())
    pending.add(task)
    task.add_done_callback(pending.discard)


async def _stop_typing(conn: Connection, conversation_id: int) -> bool:
    """Sends `is_typing: false` if this socket was typing there; True when it did."""
    current = _typing(conn).pop(conversation_id, None)
    if current is None:
        return False
    current.timer.cancel()
    await apublish_rollback_unsafe(
        chat_group(conversation_id),
        "chat.typing",
        typing_data(conversation_id, conn.user, is_typing=False),
    )
    return True


@on_disconnect
async def forget_socket(conn: Connection) -> None:
    for conversation_id in tuple(_typing(conn)):
        await _stop_typing(conn, conversation_id)
    joined = _joined(conn)
    if joined:
        await sync_to_async(live.mark_gone, thread_sensitive=False)(
            tuple(joined), conn.user.pk, conn.channel_name
        )
        joined.clear()

"""Websocket commands: a registry the consumer dispatches to, and the helpers handlers use.

Each app registers its commands in its ``ws.py`` (imported from ``AppConfig.ready``)::

    @command("course.join")
    async def join_course(conn: Connection, data: CommandData) -> Ack:
        course_id = positive_int(data, "course_id")
        ...

A handler checks permission for the object it touches, returns the `ack` data, or raises
`CommandError`, which becomes an `error` reply. The socket stays open either way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

CommandData = Mapping[str, Any]
Ack = Mapping[str, Any] | None


class Connection(Protocol):
    """What a command handler may use of the socket it serves."""

    user: User
    channel_name: str
    # Per-connection state that apps keep for their own commands (chat rooms joined, …).
    state: dict[str, Any]

    async def join_group(self, group: str) -> None: ...

    async def leave_group(self, group: str) -> None: ...

    async def send_text(self, text: str) -> None: ...


Handler = Callable[[Connection, CommandData], Awaitable[Ack]]
Hook = Callable[[Connection], Awaitable[None]]


class CommandError(Exception):
    """Refuses one command; becomes ``{"type": "error", "ref", "code", "message"}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def not_found(what: str) -> CommandError:
    """The same answer for "does not exist" and "not yours": it reveals nothing."""
    return CommandError("not_found", f"No such {what}.")


_commands: dict[str, Handler] = {}
_disconnect_hooks: list[Hook] = []
_session_start_hooks: list[Hook] = []


def command(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in _commands:
            raise RuntimeError(f"websocket command {name!r} is registered twice")
        _commands[name] = handler
        return handler

    return register


def on_disconnect(hook: Hook) -> Hook:
    """Registers a coroutine run when a socket closes (after it leaves its groups)."""
    _disconnect_hooks.append(hook)
    return hook


def on_session_start(hook: Hook) -> Hook:
    """Registers a coroutine run once a socket is authenticated, before `session.ready`."""
    _session_start_hooks.append(hook)
    return hook


async def run_session_start_hooks(conn: Connection) -> None:
    """Runs every session-start hook; one that fails is logged and does not end the session."""
    for hook in tuple(_session_start_hooks):
        try:
            await hook(conn)
        except Exception:
            logger.exception("session start hook %s failed", getattr(hook, "__name__", hook))


def get_handler(name: str) -> Handler | None:
    return _commands.get(name)


def disconnect_hooks() -> tuple[Hook, ...]:
    return tuple(_disconnect_hooks)


def registered_commands() -> frozenset[str]:
    return frozenset(_commands)


# --- validation of command data -------------------------------------------------------


def positive_int(data: CommandData, key: str) -> int:
    value = data.get(key)
    # bool is an int subclass; `true` is not an id.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise CommandError("invalid", f"'{key}' must be a positive integer.")
    return value


def non_negative_int(data: CommandData, key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CommandError("invalid", f"'{key}' must be an integer of 0 or more.")
    return value


def non_negative_number(data: CommandData, key: str, *, maximum: float) -> float:
    value = data.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise CommandError("invalid", f"'{key}' must be a number from 0 to {maximum:g}.")
    return float(value)


def boolean(data: CommandData, key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise CommandError("invalid", f"'{key}' must be true or false.")
    return value


def text(data: CommandData, key: str, *, max_length: int, min_length: int = 1) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise CommandError("invalid", f"'{key}' must be a string.")
    if not min_length <= len(value.strip()) <= max_length:
        raise CommandError(
            "invalid", f"'{key}' must be {min_length} to {max_length} characters long."
        )
    return value

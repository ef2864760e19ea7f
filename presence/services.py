"""Presence writes: sockets, course viewers, lesson watching, heartbeats and sweeps.

State lives in Redis with deadlines (presence/store.py), never in a process's memory
alone. Each server process keeps only a small registry of ITS live sockets so that ONE
asyncio task per process (not per socket) can refresh all of them in one Redis call every
``PRESENCE_HEARTBEAT_S``. A process killed with SIGKILL stops refreshing; its entries
pass their deadline after ``PRESENCE_TTL_S`` and stop counting at once (readers filter by
deadline); the next sweep (any live process's heartbeat, or the Celery beat task) removes
them and broadcasts the transitions.

Only transitions are broadcast: `presence.changed` (online ↔ offline) to `admins`, and
`course.viewers` when a course's distinct-user count changes, at most once per
``PRESENCE_VIEWERS_INTERVAL_S`` per course across all processes, the last value always
sent (trailing edge). Heartbeats write and never broadcast. All events here are
ephemeral state outside the database, hence `*_rollback_unsafe`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from realtime.commands import Connection
from realtime.groups import admins_group, course_group
from realtime.publish import apublish_rollback_unsafe, publish_rollback_unsafe

from . import events
from .store import AsyncStore, async_store, key, member, sync_store

logger = logging.getLogger(__name__)

_HEARTBEAT_CHUNK = 500  # sockets per Lua call: bounds how long one call blocks Redis
_SWEEP_LIMIT = 1000
_LAST_COUNT_KEEP_S = 86400
_WATCHING = "presence.watching"  # conn.state key: the course id this socket reports on


def _ttl() -> float:
    return float(settings.PRESENCE_TTL_S)


def _keep_s() -> int:
    """How long a per-user key may live unrefreshed (whole seconds for EXPIRE)."""
    return math.ceil(_ttl()) + 1


def _viewers_interval_ms() -> int:
    return max(1, int(settings.PRESENCE_VIEWERS_INTERVAL_S * 1000))


# --- this process's sockets ------------------------------------------------------------


@dataclass(slots=True)
class LocalSocket:
    user_id: int
    member: str
    # The consumer, weakly: one that dies without its disconnect hook (an exception in
    # the application) is collected, and the next heartbeat forgets it instead of
    # keeping a ghost alive forever.
    owner: weakref.ReferenceType[Any]
    courses: set[int] = field(default_factory=set)


class ProcessPresence:
    """The live sockets of this process (one event loop) and its single heartbeat task."""

    def __init__(self) -> None:
        self.sockets: dict[str, LocalSocket] = {}
        # Held while a heartbeat is in flight, and by removals: a heartbeat snapshot must
        # not re-add a socket that a concurrent disconnect has just removed from Redis.
        self.lock = asyncio.Lock()
        self.heartbeat: asyncio.Task[None] | None = None
        self.trailing: set[int] = set()  # courses with a trailing count check scheduled
        self.tasks: set[asyncio.Task[None]] = set()  # keeps spawned tasks referenced

    def spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


_processes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProcessPresence] = (
    weakref.WeakKeyDictionary()
)


def process_presence() -> ProcessPresence:
    loop = asyncio.get_running_loop()
    state = _processes.get(loop)
    if state is None:
        state = _processes[loop] = ProcessPresence()
    return state


def _ensure_heartbeat(state: ProcessPresence) -> None:
    if state.heartbeat is None or state.heartbeat.done():
        state.heartbeat = asyncio.ensure_future(_heartbeat_loop(state))


# --- sockets: online / offline ---------------------------------------------------------


async def start_socket(conn: Connection) -> None:
    """Registers an authenticated socket. Publishes `presence.changed` if the user was offline."""
    state = process_presence()
    user_id = conn.user.pk
    socket = LocalSocket(user_id, member(user_id, conn.channel_name), weakref.ref(conn))
    state.sockets[conn.channel_name] = socket
    _ensure_heartbeat(state)
    store = async_store()
    became_online = await store.scripts["connect"](
        keys=[key("conns"), key("u", user_id), key("online")],
        args=[socket.member, conn.channel_name, user_id, time.time() + _ttl(), _keep_s()],
    )
    if became_online:
        await _apublish_presence(user_id, is_online=True, last_seen=None, reason="connect")


async def end_socket(conn: Connection) -> None:
    """Unregisters a closed socket from presence, its course pages and lesson watching.

    Publishes `presence.changed` if it was the user's last socket anywhere, and
    (throttled) `course.viewers` for its courses.
    """
    state = process_presence()
    async with state.lock:
        socket = state.sockets.pop(conn.channel_name, None)
        if socket is None:
            return
        went_offline = await _aremove(socket, conn.channel_name, conn.state.get(_WATCHING))
    await _aannounce_removal(socket, went_offline)


async def _aremove(socket: LocalSocket, channel_name: str, watching: int | None) -> float | None:
    """Deletes a socket's entries; returns the time if the user went offline with it."""
    store = async_store()
    now = time.time()
    pipe = store.client.pipeline(transaction=False)
    for course_id in socket.courses:
        pipe.zrem(key("c", course_id), socket.member)
    if watching is not None:
        pipe.zrem(key("w", watching), socket.member)
        pipe.hdel(key("wd", watching), socket.member)
    if len(pipe):
        await pipe.execute()
    went_offline = await store.scripts["disconnect"](
        keys=[key("conns"), key("u", socket.user_id), key("online"), key("seen")],
        args=[socket.member, channel_name, socket.user_id, now],
    )
    return now if went_offline else None


async def _aannounce_removal(socket: LocalSocket, went_offline_at: float | None) -> None:
    if went_offline_at is not None:
        await _apublish_presence(
            socket.user_id, is_online=False, last_seen=went_offline_at, reason="disconnect"
        )
    for course_id in socket.courses:
        await note_viewers_changed(course_id)


async def _apublish_presence(
    user_id: int, *, is_online: bool, last_seen: float | None, reason: events.PresenceReason
) -> None:
    payload = events.presence_changed(
        user_id, is_online=is_online, last_seen=last_seen, reason=reason
    )
    await apublish_rollback_unsafe(admins_group(), events.PRESENCE_CHANGED, payload)


# --- course pages ----------------------------------------------------------------------


async def join_course_page(conn: Connection, course_id: int) -> int:
    """Counts the socket as a viewer of the course and subscribes it to `course.<id>`.

    The caller has checked that the user may view the course. Returns the current
    distinct-viewer count, read after subscribing: a change announced before the
    subscription is then included in it, one after it arrives as an event.
    """
    state = process_presence()
    socket = state.sockets.get(conn.channel_name)
    if socket is None:  # cannot happen for an authenticated socket; be safe
        socket = state.sockets[conn.channel_name] = LocalSocket(
            conn.user.pk, member(conn.user.pk, conn.channel_name), weakref.ref(conn)
        )
        _ensure_heartbeat(state)
    store = async_store()
    if course_id not in socket.courses:
        socket.courses.add(course_id)
        await store.scripts["join_course"](
            keys=[key("c", course_id), key("courses")],
            args=[socket.member, time.time() + _ttl(), course_id],
        )
        # Announced before subscribing, so this socket does not hear its own join: the
        # count in its ack covers it.
        await note_viewers_changed(course_id)
    await conn.join_group(course_group(course_id))
    counts = await aviewer_counts([course_id])
    return counts.get(course_id, 0)


async def leave_course_page(conn: Connection, course_id: int) -> None:
    """Unsubscribes the socket from `course.<id>` and stops counting it as a viewer."""
    await conn.leave_group(course_group(course_id))
    state = process_presence()
    async with state.lock:
        socket = state.sockets.get(conn.channel_name)
        if socket is None or course_id not in socket.courses:
            return
        socket.courses.discard(course_id)
        await async_store().client.zrem(key("c", course_id), socket.member)
    await note_viewers_changed(course_id)


async def aviewer_counts(course_ids: Iterable[int]) -> dict[int, int]:
    """Distinct users with an unexpired entry per course (read only)."""
    ids = list(dict.fromkeys(course_ids))
    if not ids:
        return {}
    pipe = async_store().client.pipeline(transaction=False)
    now = time.time()
    for course_id in ids:
        pipe.zrangebyscore(key("c", course_id), f"({now}", "+inf")
    results = await pipe.execute()
    return {cid: _distinct_users(members) for cid, members in zip(ids, results, strict=True)}


def _distinct_users(members: list[str]) -> int:
    return len({m.split("|", 1)[0] for m in members})


# --- course.viewers throttle -----------------------------------------------------------
#
# A per-course lock in Redis (SET NX PX interval) shared by all processes. Whoever takes
# it counts and broadcasts if the count differs from the last one sent. Whoever finds it
# taken remembers the holder's token and checks again when it expires: if the same holder
# still has it, it waits again; if another has taken it since, that one counted after our
# write, so our change is covered. Either way every change is followed, within about one
# interval, by a count taken after it: the last value is always sent.


async def note_viewers_changed(course_id: int) -> None:
    store = async_store()
    lock_key = key("ct", course_id)
    if await store.client.set(lock_key, uuid.uuid4().hex, nx=True, px=_viewers_interval_ms()):
        await _abroadcast_viewers(store, course_id)
        return
    holder: str | None = await store.client.get(lock_key)  # type: ignore[assignment]
    state = process_presence()
    if course_id in state.trailing:
        return
    state.trailing.add(course_id)
    await _aschedule_trailing(state, store, course_id, holder)


async def _aschedule_trailing(
    state: ProcessPresence, store: AsyncStore, course_id: int, holder: str | None
) -> None:
    wait_ms = await store.client.pttl(key("ct", course_id))
    delay = max(wait_ms, 1) / 1000 + 0.002
    loop = asyncio.get_running_loop()
    loop.call_later(delay, _start_trailing, state, course_id, holder)


def _start_trailing(state: ProcessPresence, course_id: int, holder: str | None) -> None:
    state.spawn(_atrailing(state, course_id, holder))


async def _atrailing(state: ProcessPresence, course_id: int, holder: str | None) -> None:
    store = async_store()
    lock_key = key("ct", course_id)
    try:
        if await store.client.set(lock_key, uuid.uuid4().hex, nx=True, px=_viewers_interval_ms()):
            state.trailing.discard(course_id)
            await _abroadcast_viewers(store, course_id)
            return
        current = await store.client.get(lock_key)
        if current is not None and current == holder:
            # The holder we waited for still has it (clock skew): wait for it again.
            await _aschedule_trailing(state, store, course_id, holder)
            return
        state.trailing.discard(course_id)
    except Exception:
        state.trailing.discard(course_id)
        logger.exception("trailing course.viewers check failed for course %s", course_id)


async def _abroadcast_viewers(store: AsyncStore, course_id: int) -> None:
    count, previous = await store.scripts["count_viewers"](
        keys=[key("c", course_id), key("cv", course_id), key("courses")],
        args=[time.time(), course_id, _LAST_COUNT_KEEP_S],
    )
    if int(count) != int(previous):
        await apublish_rollback_unsafe(
            course_group(course_id),
            events.COURSE_VIEWERS,
            events.course_viewers(course_id, int(count)),
        )


# --- lesson watching -------------------------------------------------------------------


async def report_watching(
    conn: Connection, *, course_id: int, lesson_id: int, position: float, playing: bool
) -> None:
    """Records where this socket's user is in a lesson. Writes only; broadcasts nothing.

    The caller has checked that the user may watch the lesson. The report is shown for
    ``PRESENCE_WATCH_TTL_S`` unless another comes.
    """
    store = async_store()
    socket_member = member(conn.user.pk, conn.channel_name)
    pipe = store.client.pipeline(transaction=True)
    previous = conn.state.get(_WATCHING)
    if previous is not None and previous != course_id:
        pipe.zrem(key("w", previous), socket_member)
        pipe.hdel(key("wd", previous), socket_member)
    report = json.dumps(
        {"lesson_id": lesson_id, "position": round(position, 3), "playing": playing},
        separators=(",", ":"),
    )
    pipe.zadd(key("w", course_id), {socket_member: time.time()})
    pipe.hset(key("wd", course_id), socket_member, report)
    pipe.sadd(key("watched"), course_id)
    await pipe.execute()
    conn.state[_WATCHING] = course_id


# --- heartbeat and sweep ---------------------------------------------------------------


async def _heartbeat_loop(state: ProcessPresence) -> None:
    interval = float(settings.PRESENCE_HEARTBEAT_S)
    while True:
        await asyncio.sleep(interval)
        try:
            await heartbeat(state)
            await sweep_if_due()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Redis down for a moment: the next beat tries again; entries live one TTL.
            logger.exception("presence heartbeat failed")


async def heartbeat(state: ProcessPresence | None = None) -> int:
    """Pushes the deadline of every live socket of this process; returns how many."""
    state = state or process_presence()
    store = async_store()
    came_back: list[str] = []
    courses_back: list[str] = []
    forgotten: list[tuple[LocalSocket, float | None]] = []
    async with state.lock:
        for channel_name, socket in list(state.sockets.items()):
            if socket.owner() is None:  # its consumer died without a disconnect
                del state.sockets[channel_name]
                forgotten.append((socket, await _aremove(socket, channel_name, None)))
        sockets = list(state.sockets.items())
        deadline = time.time() + _ttl()
        for start in range(0, len(sockets), _HEARTBEAT_CHUNK):
            args: list[Any] = [store_prefix(), deadline, _keep_s()]
            for channel_name, socket in sockets[start : start + _HEARTBEAT_CHUNK]:
                args += [socket.user_id, channel_name, ",".join(map(str, socket.courses))]
            back, courses = await store.scripts["heartbeat"](
                keys=[key("conns"), key("online"), key("courses")], args=args
            )
            came_back += back
            courses_back += courses
    for socket, went_offline_at in forgotten:
        await _aannounce_removal(socket, went_offline_at)
    # Only after a stall longer than the TTL, when a sweeper had declared these gone.
    for user_id in dict.fromkeys(came_back):
        await _apublish_presence(int(user_id), is_online=True, last_seen=None, reason="connect")
    for course_id in dict.fromkeys(courses_back):
        await note_viewers_changed(int(course_id))
    return len(sockets)


def store_prefix() -> str:
    return str(settings.PRESENCE_KEY_PREFIX)


async def sweep_if_due() -> bool:
    """Sweeps unless another process swept within the last heartbeat interval."""
    interval_ms = max(1, int(float(settings.PRESENCE_HEARTBEAT_S) * 900))
    if not await async_store().client.set(key("sweep"), "1", nx=True, px=interval_ms):
        return False
    await asweep()
    return True


async def asweep() -> None:
    """Removes expired sockets, viewers and watch reports; broadcasts the transitions."""
    store = async_store()
    now = time.time()
    while True:
        offline = await store.scripts["sweep"](
            keys=[key("conns"), key("online"), key("seen")],
            args=[store_prefix(), now, _ttl(), _SWEEP_LIMIT],
        )
        for user_id, seen in zip(offline[::2], offline[1::2], strict=True):
            await _apublish_presence(
                int(user_id), is_online=False, last_seen=float(seen), reason="expired"
            )
        if len(offline) < 2 * _SWEEP_LIMIT:
            break
    for course_id in await _courses_with_expired_viewers(store, now):
        await note_viewers_changed(course_id)
    await _asweep_watching(store, now)


async def _courses_with_expired_viewers(store: AsyncStore, now: float) -> list[int]:
    course_ids = [int(c) for c in await store.client.smembers(key("courses"))]
    if not course_ids:
        return []
    pipe = store.client.pipeline(transaction=False)
    for course_id in course_ids:
        pipe.zcount(key("c", course_id), "-inf", now)
    expired = await pipe.execute()
    return [cid for cid, n in zip(course_ids, expired, strict=True) if n]


async def _asweep_watching(store: AsyncStore, now: float) -> None:
    oldest = now - float(settings.PRESENCE_WATCH_TTL_S)
    for course_id in await store.client.smembers(key("watched")):
        await store.scripts["sweep_watching"](
            keys=[key("w", course_id), key("wd", course_id), key("watched")],
            args=[oldest, course_id],
        )


def sweep() -> None:
    """Synchronous sweep for the Celery beat task (covers "no server process is alive")."""
    store = sync_store()
    now = time.time()
    while True:
        offline = store.scripts["sweep"](
            keys=[key("conns"), key("online"), key("seen")],
            args=[store_prefix(), now, _ttl(), _SWEEP_LIMIT],
        )
        for user_id, seen in zip(offline[::2], offline[1::2], strict=True):
            payload = events.presence_changed(
                int(user_id), is_online=False, last_seen=float(seen), reason="expired"
            )
            publish_rollback_unsafe(admins_group(), events.PRESENCE_CHANGED, payload)
        if len(offline) < 2 * _SWEEP_LIMIT:
            break
    course_ids = [int(c) for c in store.client.smembers(key("courses"))]
    for course_id in course_ids:
        if store.client.zcount(key("c", course_id), "-inf", now):
            _note_viewers_changed_blocking(course_id)
    oldest = now - float(settings.PRESENCE_WATCH_TTL_S)
    for watched_id in list(store.client.smembers(key("watched"))):
        store.scripts["sweep_watching"](
            keys=[key("w", watched_id), key("wd", watched_id), key("watched")],
            args=[oldest, watched_id],
        )


def _note_viewers_changed_blocking(course_id: int) -> None:
    """The throttle of `note_viewers_changed` for sync code: waits out the lock instead."""
    store = sync_store()
    lock_key = key("ct", course_id)
    holder: str | None = None
    for _ in range(5):
        if store.client.set(lock_key, uuid.uuid4().hex, nx=True, px=_viewers_interval_ms()):
            count, previous = store.scripts["count_viewers"](
                keys=[key("c", course_id), key("cv", course_id), key("courses")],
                args=[time.time(), course_id, _LAST_COUNT_KEEP_S],
            )
            if int(count) != int(previous):
                publish_rollback_unsafe(
                    course_group(course_id),
                    events.COURSE_VIEWERS,
                    events.course_viewers(course_id, int(count)),
                )
            return
        current: str | None = store.client.get(lock_key)  # type: ignore[assignment]
        if holder is not None and current != holder:
            return  # a newer holder counted after our change
        holder = current
        time.sleep(max(int(store.client.pttl(lock_key)), 1) / 1000 + 0.002)

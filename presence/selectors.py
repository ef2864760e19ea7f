"""Presence reads for the REST API (sync). Nothing past its deadline is ever returned.

What may be out of date says so: every entry carries `age_s` (seconds since its last
sign of life) and `stale` (older than expected: its server process may have died, and
the entry will vanish by its deadline).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any, TypedDict

from django.conf import settings

from accounts.models import User
from courses.models import Lesson

from .events import iso
from .store import key, sync_store, user_of_member


class OnlineUser(TypedDict):
    user_id: int
    username: str
    role: str
    connections: int
    age_s: float
    stale: bool


class RecentlyOffline(TypedDict):
    user_id: int
    username: str
    last_seen: str


class OnlineUsers(TypedDict):
    ttl_s: float
    count: int
    users: list[OnlineUser]
    recently_offline: list[RecentlyOffline]


class Watcher(TypedDict):
    user_id: int
    username: str
    lesson_id: int
    lesson_title: str
    position: float
    playing: bool
    reported_at: str
    age_s: float
    stale: bool


class Watching(TypedDict):
    course_id: int
    watch_ttl_s: float
    watchers: list[Watcher]


_RECENT = 50


def online_users() -> OnlineUsers:
    """Users with at least one socket before its deadline, and the latest to go offline."""
    client = sync_store().client
    now = time.time()
    ttl = float(settings.PRESENCE_TTL_S)
    # A socket heartbeats every PRESENCE_HEARTBEAT_S; missing 1.5 beats means trouble.
    stale_after = 1.5 * float(settings.PRESENCE_HEARTBEAT_S)
    candidates = sorted(int(uid) for uid in client.smembers(key("online")))
    pipe = client.pipeline(transaction=False)
    for user_id in candidates:
        pipe.zrangebyscore(key("u", user_id), f"({now}", "+inf", withscores=True)
    live: dict[int, tuple[int, float]] = {}
    for user_id, sockets in zip(candidates, pipe.execute(), strict=True):
        if sockets:
            newest_deadline = max(float(score) for _, score in sockets)
            live[user_id] = (len(sockets), max(0.0, now - (newest_deadline - ttl)))
    recent = [
        (int(uid), float(seen))
        for uid, seen in _pairs(client.zrevrange(key("seen"), 0, _RECENT * 2, withscores=True))
        if int(uid) not in live
    ][:_RECENT]
    names = _users({*live, *(uid for uid, _ in recent)})
    users: list[OnlineUser] = [
        {
            "user_id": user_id,
            "username": names[user_id].username,
            "role": names[user_id].role,
            "connections": connections,
            "age_s": round(age, 1),
            "stale": age > stale_after,
        }
        for user_id, (connections, age) in live.items()
        if user_id in names
    ]
    return {
        "ttl_s": ttl,
        "count": len(users),
        "users": users,
        "recently_offline": [
            {"user_id": uid, "username": names[uid].username, "last_seen": iso(seen)}
            for uid, seen in recent
            if uid in names
        ],
    }


def viewer_counts(course_ids: Iterable[int]) -> dict[int, int] | None:
    """Distinct users on each course page now; None when Redis cannot be reached."""
    ids = list(dict.fromkeys(course_ids))
    if not ids:
        return {}
    client = sync_store().client
    now = time.time()
    pipe = client.pipeline(transaction=False)
    for course_id in ids:
        pipe.zrangebyscore(key("c", course_id), f"({now}", "+inf")
    try:
        results = pipe.execute()
    except Exception:  # the course page must still load when Redis is down
        return None
    return {
        cid: len({user_of_member(m) for m in members})
        for cid, members in zip(ids, results, strict=True)
    }


def watching(course_id: int) -> Watching:
    """Who reported watching a lesson of the course recently: one row per user, newest report."""
    client = sync_store().client
    now = time.time()
    ttl = float(settings.PRESENCE_WATCH_TTL_S)
    stale_after = float(settings.PRESENCE_WATCH_STALE_S)
    reports = client.zrangebyscore(key("w", course_id), f"({now - ttl}", "+inf", withscores=True)
    newest: dict[int, tuple[str, float]] = {}
    for socket_member, reported_at in _pairs(reports):  # ascending: later reports win
        newest[user_of_member(str(socket_member))] = (str(socket_member), float(reported_at))
    data = client.hmget(key("wd", course_id), [m for m, _ in newest.values()]) if newest else []
    parsed = {
        user_id: json.loads(raw)
        for user_id, raw in zip(newest, data, strict=True)
        if raw is not None
    }
    names = _users(parsed)
    titles = dict(
        Lesson.objects.filter(
            course_id=course_id, pk__in={p["lesson_id"] for p in parsed.values()}
        ).values_list("pk", "title")
    )
    watchers: list[Watcher] = []
    for user_id, report in parsed.items():
        if user_id not in names or report["lesson_id"] not in titles:
            continue
        reported_at = newest[user_id][1]
        age = max(0.0, now - reported_at)
        watchers.append(
            {
                "user_id": user_id,
                "username": names[user_id].username,
                "lesson_id": report["lesson_id"],
                "lesson_title": titles[report["lesson_id"]],
                "position": float(report["position"]),
                "playing": bool(report["playing"]),
                "reported_at": iso(reported_at),
                "age_s": round(age, 1),
                "stale": age > stale_after,
            }
        )
    watchers.sort(key=lambda w: (w["lesson_id"], w["username"]))
    return {"course_id": course_id, "watch_ttl_s": ttl, "watchers": watchers}


def _pairs(rows: Any) -> list[tuple[Any, Any]]:
    """redis-py's `withscores` rows, typed loosely by its stubs."""
    return [(value, score) for value, score in rows]


def _users(user_ids: Iterable[int]) -> dict[int, User]:
    ids = set(user_ids)
    if not ids:
        return {}
    return {u.pk: u for u in User.objects.filter(pk__in=ids).only("id", "username", "role")}

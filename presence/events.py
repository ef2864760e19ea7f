"""Typed payloads of the presence events (DESIGN.md §6, ephemeral: no `seq`).

- ``presence.changed`` to `admins`: a user went online or offline (transitions only).
- ``course.viewers`` to `course.<id>`: the number of distinct users on the course page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, TypedDict

PRESENCE_CHANGED = "presence.changed"
COURSE_VIEWERS = "course.viewers"

# connect / disconnect: a socket opened or closed cleanly; expired: the user's last
# socket stopped heartbeating (its server process died or stalled).
PresenceReason = Literal["connect", "disconnect", "expired"]


class PresenceChanged(TypedDict):
    user_id: int
    is_online: bool
    last_seen: str | None  # ISO 8601 UTC when offline; null when online
    reason: PresenceReason


class CourseViewers(TypedDict):
    course_id: int
    viewers: int


def iso(unix_time: float) -> str:
    return (
        datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def presence_changed(
    user_id: int, *, is_online: bool, last_seen: float | None, reason: PresenceReason
) -> PresenceChanged:
    return {
        "user_id": int(user_id),
        "is_online": is_online,
        "last_seen": None if is_online or last_seen is None else iso(last_seen),
        "reason": reason,
    }


def course_viewers(course_id: int, viewers: int) -> CourseViewers:
    return {"course_id": int(course_id), "viewers": int(viewers)}

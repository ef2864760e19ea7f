"""Typed payloads of the notification events (DESIGN.md §6).

- ``notification.created`` (kept, to the recipient):
  ``{"notification": NotificationData, "unread_count": int, "resent": bool}``
- ``notification.read`` (kept, to the reader): ``{"ids": [int] | None, "all": bool,
  "through_id": int | None, "unread_count": int}``; ``all`` marks every row with
  ``id <= through_id`` read.
- ``sound.play`` (ephemeral, to ``user.<id>``): ``{"sound": "purchase", "notification_id": int}``

``unread_count`` is counted inside the transaction that writes the change, after the
recipient's row is locked, so it is the database's count at that event's ``seq``.
"""

from __future__ import annotations

from typing import Any, Final, TypedDict

from .models import Notification

NOTIFICATION_CREATED: Final = "notification.created"
NOTIFICATION_READ: Final = "notification.read"
SOUND_PLAY: Final = "sound.play"


class NotificationData(TypedDict):
    id: int
    kind: str
    title: str
    body: str
    payload: dict[str, Any]
    is_read: bool
    created_at: str


class NotificationCreatedData(TypedDict):
    notification: NotificationData
    unread_count: int
    resent: bool


class NotificationReadData(TypedDict):
    ids: list[int] | None
    all: bool
    through_id: int | None
    unread_count: int


class SoundPlayData(TypedDict):
    sound: str
    notification_id: int


def notification_data(notification: Notification) -> NotificationData:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "payload": dict(notification.payload),
        "is_read": notification.is_read,
        "created_at": notification.created_at.isoformat(),
    }


def notification_created(
    notification: Notification, unread_count: int, *, resent: bool = False
) -> NotificationCreatedData:
    return {
        "notification": notification_data(notification),
        "unread_count": unread_count,
        "resent": resent,
    }


def notification_read(
    *, ids: list[int] | None, through_id: int | None, unread_count: int
) -> NotificationReadData:
    return {
        "ids": ids,
        "all": ids is None,
        "through_id": through_id,
        "unread_count": unread_count,
    }


def sound_play(notification_id: int, sound: str = "purchase") -> SoundPlayData:
    return {"sound": sound, "notification_id": notification_id}

"""Writes of notifications; every change is published after commit (DESIGN.md §2, §8).

Consistency of ``unread_count``: every function here that adds or reads-away rows of a
user first locks that user's row (``_lock_users``, in id order), then writes, then counts,
then logs the kept event (which locks the user's event stream, also in id order). Two
writers for one user therefore run one after the other, and the count each event carries
is exactly the database's count at that event's ``seq``. On SQLite the IMMEDIATE
transaction mode serialises every writer anyway; on PostgreSQL the row locks do it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Max, Q
from django.http import Http404
from django.utils import timezone

from accounts.models import Role, User
from elearning.transactions import after_commit
from realtime.groups import user_group
from realtime.publish import (
    publish_kept_each_on_commit,
    publish_kept_on_commit,
    publish_on_commit,
)

from . import events
from .models import Announcement, Audience, Notification, NotificationKind
from .permissions import can_announce, can_manage_notifications_of_others
from .selectors import unread_count, unread_counts

ANNOUNCEMENT_BATCH = 500


@dataclass(frozen=True, slots=True)
class NotificationSpec:
    """One notification to write; `sound` also sends an ephemeral `sound.play`."""

    recipient_id: int
    kind: str
    title: str
    body: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    sound: str | None = None


def _lock_users(user_ids: Iterable[int], *, active_only: bool = True) -> list[int]:
    """Locks the users' rows in id order and returns the ids that exist (and are active)."""
    users = User.objects.select_for_update().filter(pk__in=sorted(set(user_ids)))
    if active_only:
        users = users.filter(is_active=True)
    return list(users.order_by("pk").values_list("pk", flat=True))


def create_notifications(
    specs: Sequence[NotificationSpec], *, dedupe_key: str
) -> list[Notification]:
    """Writes one notification per recipient for the event named `dedupe_key`.

    The first spec for a recipient wins, so callers list the most specific first.
    Deactivated or deleted users and recipients that already have a notification for
    `dedupe_key` (a retried task) are skipped. Publishes `notification.created` (kept)
    to each new recipient and `sound.play` where asked, on commit.
    """
    by_recipient: dict[int, NotificationSpec] = {}
    for spec in specs:
        by_recipient.setdefault(spec.recipient_id, spec)
    if not by_recipient:
        return []
    with transaction.atomic():
        recipients = _lock_users(by_recipient)
        already = set(
            Notification.objects.filter(
                dedupe_key=dedupe_key, recipient_id__in=recipients
            ).values_list("recipient_id", flat=True)
        )
        rows = Notification.objects.bulk_create(
            [
                Notification(
                    recipient_id=uid,
                    kind=by_recipient[uid].kind,
                    title=by_recipient[uid].title,
                    body=by_recipient[uid].body,
                    payload=by_recipient[uid].payload,
                    dedupe_key=dedupe_key,
                )
                for uid in recipients
                if uid not in already
            ]
        )
        counts = unread_counts(row.recipient_id for row in rows)
        publish_kept_each_on_commit(
            events.NOTIFICATION_CREATED,
            {
                row.recipient_id: events.notification_created(row, counts[row.recipient_id])
                for row in rows
            },
        )
        for row in rows:
            sound = by_recipient[row.recipient_id].sound
            if sound is not None:
                publish_on_commit(
                    user_group(row.recipient_id),
                    events.SOUND_PLAY,
                    events.sound_play(row.pk, sound),
                )
    return rows


# --- reading -----------------------------------------------------------------------------


def mark_read(*, actor: User, notification_id: int) -> int:
    """Marks one of the actor's notifications read; returns the actor's unread count.

    Publishes `notification.read` (kept) to the actor's sockets on commit when the row
    changed. Raises Http404 when the notification is absent or not the actor's.
    """
    with transaction.atomic():
        _lock_users([actor.pk], active_only=False)
        changed = Notification.objects.filter(
            pk=notification_id, recipient_id=actor.pk, is_read=False
        ).update(is_read=True, read_at=timezone.now())
        if (
            not changed
            and not Notification.objects.filter(pk=notification_id, recipient_id=actor.pk).exists()
        ):
            raise Http404("No such notification.")
        count = unread_count(actor.pk)
        if changed:
            publish_kept_on_commit(
                [actor.pk],
                events.NOTIFICATION_READ,
                events.notification_read(
                    ids=[notification_id], through_id=None, unread_count=count
                ),
            )
    return count


def mark_all_read(*, actor: User) -> int:
    """Marks every notification of the actor read; returns the unread count (0).

    Publishes `notification.read` with `all: true` and the highest id it covered, on
    commit, when any row changed. A notification created concurrently waits for the lock
    and lands after it, unread, with its own higher count.
    """
    with transaction.atomic():
        _lock_users([actor.pk], active_only=False)
        unread = Notification.objects.filter(recipient_id=actor.pk, is_read=False)
        through_id = unread.aggregate(top=Max("id"))["top"]
        if through_id is not None:
            unread.filter(id__lte=through_id).update(is_read=True, read_at=timezone.now())
        count = unread_count(actor.pk)
        if through_id is not None:
            publish_kept_on_commit(
                [actor.pk],
                events.NOTIFICATION_READ,
                events.notification_read(ids=None, through_id=through_id, unread_count=count),
            )
    return count


def mark_notifications_read_for_recipients(*, actor: User, notification_ids: Sequence[int]) -> int:
    """Admin action: marks the given notifications read, whoever they belong to.

    Each affected recipient gets one `notification.read` with their own count. Returns
    the number of rows changed.
    """
    if not can_manage_notifications_of_others(actor):
        raise PermissionDenied("Only admins may mark other people's notifications read.")
    changed_total = 0
    with transaction.atomic():
        recipients = set(
            Notification.objects.filter(pk__in=notification_ids, is_read=False).values_list(
                "recipient_id", flat=True
            )
        )
        for uid in _lock_users(recipients, active_only=False):
            mine = Notification.objects.filter(
                pk__in=notification_ids, recipient_id=uid, is_read=False
            )
            ids = sorted(mine.values_list("pk", flat=True))
            changed = Notification.objects.filter(pk__in=ids).update(
                is_read=True, read_at=timezone.now()
            )
            changed_total += changed
            if changed:
                publish_kept_on_commit(
                    [uid],
                    events.NOTIFICATION_READ,
                    events.notification_read(
                        ids=ids, through_id=None, unread_count=unread_count(uid)
                    ),
                )
    return changed_total


def push_again(*, actor: User, notification_id: int) -> None:
    """Admin action: sends a notification to the recipient's open sockets once more.

    A fresh kept `notification.created` (with `resent: true`) rather than a resend of the
    logged original: the original may be trimmed from the log, and its `unread_count` is
    stale; a fresh event gets a new `seq`, so `resume` and badges stay exact.
    """
    if not can_manage_notifications_of_others(actor):
        raise PermissionDenied("Only admins may push notifications again.")
    with transaction.atomic():
        notification = Notification.objects.filter(pk=notification_id).first()
        if notification is None:
            raise Http404("No such notification.")
        _lock_users([notification.recipient_id], active_only=False)
        publish_kept_on_commit(
            [notification.recipient_id],
            events.NOTIFICATION_CREATED,
            events.notification_created(
                notification, unread_count(notification.recipient_id), resent=True
            ),
        )


# --- domain events -------------------------------------------------------------------


def notify_course_purchased(
    *, buyer_id: int, purchase_id: int, course_id: int, course_title: str, instructor_id: int
) -> list[Notification]:
    """The course's instructor ("your course was purchased", with `sound.play`) and every
    active admin ("new course purchase"); never the buyer, one row per person.
    """
    payload = {"purchase_id": purchase_id, "course_id": course_id, "buyer_id": buyer_id}
    specs = [
        NotificationSpec(
            recipient_id=instructor_id,
            kind=NotificationKind.COURSE_SOLD,
            title="Your course was purchased",
            body=course_title,
            payload=payload,
            sound="purchase",
        )
    ]
    specs += [
        NotificationSpec(
            recipient_id=admin_id,
            kind=NotificationKind.COURSE_PURCHASED,
            title="New course purchase",
            body=course_title,
            payload=payload,
        )
        for admin_id in admin_ids()
    ]
    return create_notifications(
        [s for s in specs if s.recipient_id != buyer_id], dedupe_key=f"purchase:{purchase_id}"
    )


def notify_comment_posted(
    *,
    author_id: int,
    comment_id: int,
    course_id: int,
    course_title: str,
    instructor_id: int,
    parent_author_id: int | None,
    body: str,
) -> list[Notification]:
    """The parent comment's author (a reply) and the course's instructor (any comment).

    Never the writer, never twice: a person who is both gets the reply notification.
    """
    payload = {"course_id": course_id, "comment_id": comment_id}
    specs = []
    if parent_author_id is not None:
        specs.append(
            NotificationSpec(
                recipient_id=parent_author_id,
                kind=NotificationKind.COMMENT_REPLY,
                title=f"New reply to your comment on {course_title}",
                body=body,
                payload=payload,
            )
        )
    specs.append(
        NotificationSpec(
            recipient_id=instructor_id,
            kind=NotificationKind.COURSE_COMMENT,
            title=f"New comment on {course_title}",
            body=body,
            payload=payload,
        )
    )
    return create_notifications(
        [s for s in specs if s.recipient_id != author_id], dedupe_key=f"comment:{comment_id}"
    )


def notify_video_finished(
    *,
    job_id: UUID | str,
    owner_id: int,
    file_name: str,
    succeeded: bool,
    message: str = "",
    run: int = 1,
) -> Notification | None:
    """Tells the uploader once that a video job run succeeded or failed.

    Call it inside the transaction that records the final status. `run` tells runs of one
    job apart (e.g. 1, then 2 after a reprocess): a retried task with the same `run`
    finds the row and writes nothing. Returns None when nothing was written.
    """
    payload = {"job_id": str(job_id), "status": "success" if succeeded else "error"}
    title = f"Your video {file_name} is ready" if succeeded else f"Your video {file_name} failed"
    rows = create_notifications(
        [
            NotificationSpec(
                recipient_id=owner_id,
                kind=NotificationKind.VIDEO_FINISHED,
                title=title[:200],
                body=message,
                payload=payload,
            )
        ],
        dedupe_key=f"video:{job_id}:{run}",
    )
    return rows[0] if rows else None


def admin_ids() -> list[int]:
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(role=Role.ADMIN) | Q(is_superuser=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- announcements -----------------------------------------------------------------


def create_announcement(*, actor: User, audience: str, title: str, body: str) -> Announcement:
    """Saves an announcement and, on commit, queues its fan-out task."""
    if not can_announce(actor):
        raise PermissionDenied("Only admins may send announcements.")
    if audience not in Audience.values:
        raise ValueError(f"Unknown audience {audience!r}.")
    from .tasks import deliver_announcement_task

    with transaction.atomic():
        announcement = Announcement.objects.create(
            created_by=actor, audience=audience, title=title, body=body
        )
        after_commit(
            f"queue announcement {announcement.pk}",
            deliver_announcement_task.delay,
            announcement.pk,
        )
    return announcement


def deliver_announcement(*, announcement_id: int, batch_size: int = ANNOUNCEMENT_BATCH) -> int:
    """Writes the announcement's notifications in batches, one transaction per batch.

    Skips the sender and deactivated users; a user deleted meanwhile is simply not
    found. Safe to run again (a retried task): recipients that have it are skipped.
    Returns the number of notifications written by this run.
    """
    announcement = Announcement.objects.filter(pk=announcement_id).first()
    if announcement is None:
        return 0
    users = User.objects.filter(is_active=True)
    if announcement.created_by_id is not None:
        users = users.exclude(pk=announcement.created_by_id)
    if announcement.audience != Audience.EVERYONE:
        users = users.filter(role=announcement.audience)
    payload = {"announcement_id": announcement.pk}
    dedupe_key = f"announcement:{announcement.pk}"
    written = 0
    after = 0
    while True:
        batch = list(
            users.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            break
        after = batch[-1]
        rows = create_notifications(
            [
                NotificationSpec(
                    recipient_id=uid,
                    kind=NotificationKind.ANNOUNCEMENT,
                    title=announcement.title,
                    body=announcement.body,
                    payload=payload,
                )
                for uid in batch
            ],
            dedupe_key=dedupe_key,
        )
        written += len(rows)
        Announcement.objects.filter(pk=announcement.pk).update(
            delivered_count=F("delivered_count") + len(rows)
        )
    Announcement.objects.filter(pk=announcement.pk).update(finished_at=timezone.now())
    return written

"""Writing and replaying the per-user event log. No channel-layer calls here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .envelope import kept_event_text, timestamp
from .models import EventStream, KeptEvent

_BATCH = 500


@dataclass(frozen=True, slots=True)
class StampedEvent:
    user_id: int
    seq: int
    text: str


def keep_events(user_ids: Iterable[int], event_type: str, data_json: str) -> list[StampedEvent]:
    """Gives each user the next `seq` and logs the same event for each of them."""
    return keep_each_event(event_type, {user_id: data_json for user_id in user_ids})


def keep_each_event(event_type: str, data_by_user: Mapping[int, str]) -> list[StampedEvent]:
    """Gives each user the next `seq` and logs their own data for one event type.

    Must run inside the transaction of the change it announces. The stream rows are
    locked in user-id order, so concurrent writers to one user commit in `seq` order
    and two writers never deadlock.
    """
    ids = sorted(data_by_user)
    ts = timestamp()
    now = timezone.now()
    stamped: list[StampedEvent] = []
    with transaction.atomic():
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            EventStream.objects.bulk_create(
                [EventStream(user_id=uid) for uid in batch], ignore_conflicts=True
            )
            streams = list(
                EventStream.objects.select_for_update().filter(user_id__in=batch).order_by("pk")
            )
            for stream in streams:
                stream.last_seq += 1
                stamped.append(
                    StampedEvent(
                        stream.user_id,
                        stream.last_seq,
                        kept_event_text(
                            event_type, stream.last_seq, ts, data_by_user[stream.user_id]
                        ),
                    )
                )
            EventStream.objects.bulk_update(streams, ["last_seq"])
        KeptEvent.objects.bulk_create(
            [
                KeptEvent(
                    user_id=e.user_id, seq=e.seq, event_type=event_type, text=e.text, created_at=now
                )
                for e in stamped
            ],
            batch_size=_BATCH,
        )
    return stamped


def last_seq(user_id: int) -> int:
    return (
        EventStream.objects.filter(user_id=user_id).values_list("last_seq", flat=True).first() or 0
    )


@dataclass(frozen=True, slots=True)
class Replay:
    resync_required: bool
    head: int  # the user's last seq when the replay was read
    events: list[tuple[int, str]]


def replay_after(user_id: int, since_seq: int, *, through: int | None = None) -> Replay:
    """Every kept event after `since_seq` (up to `through`), in order; or resync when
    that is impossible: the client names a seq it cannot have seen, or one older than
    the log keeps."""
    stream = EventStream.objects.filter(user_id=user_id).first()
    head = stream.last_seq if stream else 0
    trimmed = stream.trimmed_through if stream else 0
    if since_seq > head or since_seq < trimmed:
        return Replay(resync_required=True, head=head, events=[])
    events = list(
        KeptEvent.objects.filter(
            user_id=user_id,
            seq__gt=since_seq,
            seq__lte=head if through is None else min(head, through),
        )
        .order_by("seq")
        .values_list("seq", "text")
    )
    return Replay(resync_required=False, head=head, events=events)


def events_between(user_id: int, after_seq: int, through_seq: int) -> list[tuple[int, str]]:
    return list(
        KeptEvent.objects.filter(user_id=user_id, seq__gt=after_seq, seq__lte=through_seq)
        .order_by("seq")
        .values_list("seq", "text")
    )


def trim_event_logs() -> int:
    """Deletes events that are both older than the keep window and beyond the last N.

    Returns the number of events deleted. Records the trim point so a resume from before
    it answers `resync_required` instead of replaying with a gap.
    """
    cutoff = timezone.now() - timedelta(hours=settings.REALTIME_KEEP_HOURS)
    keep = settings.REALTIME_KEEP_EVENTS
    deleted = 0
    candidates = EventStream.objects.filter(last_seq__gt=F("trimmed_through") + keep)
    for stream in candidates.iterator():
        with transaction.atomic():
            newest_old = (
                KeptEvent.objects.filter(
                    user_id=stream.user_id,
                    created_at__lt=cutoff,
                    seq__lte=stream.last_seq - keep,
                )
                .order_by("-seq")
                .values_list("seq", flat=True)
                .first()
            )
            if newest_old is None:
                continue
            count, _ = KeptEvent.objects.filter(
                user_id=stream.user_id, seq__lte=newest_old
            ).delete()
            EventStream.objects.filter(pk=stream.pk, trimmed_through__lt=newest_old).update(
                trimmed_through=newest_old
            )
            deleted += count
    return deleted

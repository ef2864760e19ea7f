"""Reads of notifications. Every read is scoped to its recipient."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from .models import Notification


def notifications_for(user_id: int, *, unread_only: bool = False) -> QuerySet[Notification]:
    rows = Notification.objects.filter(recipient_id=user_id)
    return rows.filter(is_read=False) if unread_only else rows


def unread_count(user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, is_read=False).count()


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Unread counts of many users in one query; users with none are 0."""
    ids = list(user_ids)
    counts = dict(
        Notification.objects.filter(recipient_id__in=ids, is_read=False)
        .values("recipient_id")
        .annotate(n=Count("id"))
        .values_list("recipient_id", "n")
    )
    return {uid: counts.get(uid, 0) for uid in ids}

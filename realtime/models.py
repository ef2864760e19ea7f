"""The per-user event log behind `seq` and `resume` (DESIGN.md §6).

Kept events are written in the same transaction as the change they announce, so a
rolled-back write leaves no event, and a reconnecting client can be replayed exactly
what it missed from the database, the source of truth.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EventStream(models.Model):
    """One row per user: the last `seq` handed out, and how far the log has been trimmed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="event_stream",
    )
    last_seq = models.PositiveBigIntegerField(default=0)
    # Events with seq <= trimmed_through are gone: a resume from before it must resync.
    trimmed_through = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"stream of {self.user_id} at {self.last_seq}"


class KeptEvent(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    event_type = models.CharField(max_length=64)
    text = models.TextField(help_text="The exact JSON text sent to the client.")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "seq"], name="kept_event_user_seq")]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.seq} for {self.user_id}"

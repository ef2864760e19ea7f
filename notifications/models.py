"""Notifications: one row per recipient per event, the truth behind unread badges."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class NotificationKind(models.TextChoices):
    COURSE_PURCHASED = "course_purchased", "New course purchase (admins)"
    COURSE_SOLD = "course_sold", "Your course was purchased"
    COURSE_COMMENT = "course_comment", "New comment on your course"
    COMMENT_REPLY = "comment_reply", "Reply to your comment"
    ANNOUNCEMENT = "announcement", "Announcement"
    VIDEO_FINISHED = "video_finished", "Video processing finished"
    CHAT_MESSAGE = "chat_message", "New chat message"


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # Ids and names a client needs to link the notification (course_id, comment_id, …).
    payload = models.JSONField(default=dict, blank=True)
    # Names the event this notification announces ("purchase:12"); a retried task or a
    # replayed request finds the row instead of writing a second one.
    dedupe_key = models.CharField(max_length=200)
    is_read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="notification_once_per_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["recipient", "id"],
                condition=Q(is_read=False),
                name="notification_unread_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.title}"


class Audience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    STUDENT = "student", "Students"
    INSTRUCTOR = "instructor", "Instructors"
    ADMIN = "admin", "Admins"


class Announcement(models.Model):
    """A system message an admin sends; a background task fans it out as notifications."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="announcements_sent",
    )
    audience = models.CharField(max_length=16, choices=Audience.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=4000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"announcement {self.pk} to {self.audience}: {self.title}"

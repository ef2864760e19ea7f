"""Conversations between two sides, their messages in server order, and read markers.

Every conversation has an *owner* (the student who asked the instructor, or the user who
asked for support) and a *staff side* (the course's instructor, or every admin). Unread
counts are computed per side, so admins share one support inbox.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ConversationKind(models.TextChoices):
    INSTRUCTOR = "instructor", "Student and instructor"
    SUPPORT = "support", "Support"


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Conversation(models.Model):
    kind = models.CharField(max_length=16, choices=ConversationKind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_conversations"
    )
    # Instructor conversations only. The instructor is copied from the course when the
    # conversation opens, so a later change of instructor does not hand over old talks.
    course = models.ForeignKey(
        "courses.Course",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="instructor_conversations",
    )
    # Support conversations only: the admin who answered last.
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="answered_conversations",
    )
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    # The last message `seq` handed out; bumped under a row lock with each insert.
    last_seq = models.PositiveBigIntegerField(default=0)
    # The highest seq each side has read (the owner; the instructor or any admin).
    owner_read_seq = models.PositiveBigIntegerField(default=0)
    staff_read_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "course"],
                condition=Q(kind="instructor"),
                name="chat_one_instructor_conversation_per_student_course",
            ),
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(kind="support"),
                name="chat_one_support_conversation_per_user",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="instructor", course__isnull=False, instructor__isnull=False)
                    | Q(kind="support", course__isnull=True, instructor__isnull=True)
                ),
                name="chat_kind_matches_course",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} conversation {self.pk} of {self.owner_id}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    # Fixed when the message is written: unread counts count the other side's messages.
    is_from_staff = models.BooleanField()
    body = models.TextField(help_text="Exactly as sent; escaped wherever it is shown.")
    client_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("conversation_id", "seq")
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="chat_message_seq"),
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"], name="chat_message_client_id"
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.conversation_id}#{self.seq}"


class ReadMarker(models.Model):
    """How far one user has read one conversation, and whether they have a pending notice."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="read_markers"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    # True from the "new message" notification until the user reads: one notice per
    # conversation, not one per message.
    is_notified = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="chat_read_marker_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} to {self.seq}"

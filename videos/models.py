"""Video jobs: one uploaded lecture and the state of its processing (DESIGN.md §7)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class UploadType(models.TextChoices):
    DEMO = "demo", "Demo"
    CONTENT = "content", "Content"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.PROCESSING)


def empty_result() -> dict[str, Any]:
    """The `result` of a job that has not finished: every key present, all null."""
    return {
        "public_id": None,
        "url": None,
        "duration": None,
        "format": None,
        "subtitles": {"vtt": None, "srt": None, "language": None},
        "warning": None,
        "error": None,
    }


class VideoJob(models.Model):
    """One upload and its processing.

    `file_name` is the uploader's name for the file: it is only ever shown (escaped),
    never used in a path, a shell or an ffmpeg filter. The upload itself lives at
    `source`, a path the server built from the job id alone.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_jobs"
    )
    file_name = models.CharField(max_length=255)
    upload_type = models.CharField(max_length=16, choices=UploadType.choices)
    course = models.ForeignKey(
        "courses.Course",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="video_jobs",
    )
    content_index = models.PositiveIntegerField(null=True, blank=True)
    language = models.CharField(max_length=8, blank=True, default="")
    burn_subtitles = models.BooleanField(default=False)

    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    stage = models.CharField(max_length=32, default="queued")
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True, default="")
    result = models.JSONField(default=empty_result)

    # `attempt` counts claims within the current run; `run` counts (re)processing requests.
    attempt = models.PositiveSmallIntegerField(default=0)
    run = models.PositiveIntegerField(default=1)
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    source = models.CharField(max_length=500, editable=False)
    size_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set explicitly by every service write (they use conditional `update()`, which
    # `auto_now` would miss).
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="videojob_owner_recent"),
            models.Index(fields=["status", "heartbeat_at"], name="videojob_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status}, {self.progress}%)"

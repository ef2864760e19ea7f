"""Reads of video jobs."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts.models import User

from .models import JobStatus, VideoJob

LIST_LIMIT = 200
"""The API and the page show the newest jobs only; older ones stay in the admin."""


def jobs_for_user(user: User) -> QuerySet[VideoJob]:
    """The user's own jobs, newest first; admins see everyone's."""
    jobs = VideoJob.objects.order_by("-created_at")
    return jobs if user.is_platform_admin else jobs.filter(owner=user)


def recent_jobs_for_user(user: User) -> list[VideoJob]:
    return list(jobs_for_user(user)[:LIST_LIMIT])


def status_counts(user: User) -> dict[str, int]:
    """Processing (pending or processing), done and failed counts for the queue page."""
    counts = jobs_for_user(user).aggregate(
        processing=Count("pk", filter=Q(status__in=[JobStatus.PENDING, JobStatus.PROCESSING])),
        done=Count("pk", filter=Q(status=JobStatus.SUCCESS)),
        failed=Count("pk", filter=Q(status=JobStatus.ERROR)),
    )
    return {key: int(value or 0) for key, value in counts.items()}

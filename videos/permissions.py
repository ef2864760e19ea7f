"""Who may do what with video jobs. Fetchers 404 for "not yours" as for "not there"."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404

from accounts.models import User

from .models import VideoJob


def can_upload_videos(user: User) -> bool:
    return user.is_authenticated and (user.is_instructor or user.is_platform_admin)


def can_view_job(user: User, job: VideoJob) -> bool:
    return job.owner_id == user.pk or user.is_platform_admin


def can_reprocess_job(user: User, job: VideoJob) -> bool:
    return can_view_job(user, job)


def get_job_for_user(user: User, job_id: UUID | str) -> VideoJob:
    try:
        job = VideoJob.objects.filter(pk=job_id).first()
    except (ValueError, TypeError):  # malformed uuid from a command line
        job = None
    if job is None or not can_view_job(user, job):
        raise Http404("No such video job.")
    return job

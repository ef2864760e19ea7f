"""The server-rendered video queue page: first state from the database, then live."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from courses.models import Course
from realtime.streams import last_seq

from .events import job_payload
from .permissions import can_upload_videos
from .selectors import recent_jobs_for_user, status_counts


@login_required
def video_queue(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not can_upload_videos(user):
        raise PermissionDenied("Only instructors and admins can upload videos.")
    # Read the seq before the jobs: whatever changes after it is replayed by `resume`.
    since_seq = last_seq(user.pk)
    courses = Course.objects.order_by("title")
    if not user.is_platform_admin:
        courses = courses.filter(instructor=user)
    return render(
        request,
        "videos/queue.html",
        {
            "jobs": [job_payload(job) for job in recent_jobs_for_user(user)],
            "counts": status_counts(user),
            "courses": courses,
            "since_seq": since_seq,
        },
    )

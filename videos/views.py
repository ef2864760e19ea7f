"""REST endpoints of the video queue (DESIGN.md §5). Thin: parse, call one service."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User

from . import services
from .events import job_payload
from .permissions import get_job_for_user
from .selectors import recent_jobs_for_user
from .serializers import VideoJobSerializer, VideoUploadSerializer

# Multipart framing around the file; anything beyond this over the limit is refused
# before the body is parsed.
_MULTIPART_SLACK_BYTES = 64 * 1024


@extend_schema(methods=["GET"], responses=VideoJobSerializer(many=True), summary="Your video jobs")
@extend_schema(
    methods=["POST"],
    request={"multipart/form-data": VideoUploadSerializer},
    responses={202: VideoJobSerializer},
    summary="Upload a video for processing",
)
@api_view(["GET", "POST"])
def video_jobs(request: Request) -> Response:
    user: User = request.user  # type: ignore[assignment]
    if request.method == "GET":
        return Response([job_payload(job) for job in recent_jobs_for_user(user)])
    content_length = int(request.META.get("CONTENT_LENGTH") or 0)
    if content_length > settings.VIDEO_MAX_UPLOAD_BYTES + _MULTIPART_SLACK_BYTES:
        raise services.UploadRejected(
            "The file is larger than the upload limit.", "file_too_large", status_code=413
        )
    form = VideoUploadSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    data = form.validated_data
    job = services.create_job(
        actor=user,
        uploaded_file=data.get("file"),
        upload_type=data.get("upload_type"),
        course_id=data.get("course_id"),
        content_index=data.get("content_index"),
        language=data.get("language"),
        burn_subtitles=data.get("burn_subtitles", False),
    )
    return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


@extend_schema(responses=VideoJobSerializer, summary="One video job")
@api_view(["GET"])
def video_job_detail(request: Request, job_id: UUID) -> Response:
    job = get_job_for_user(request.user, job_id)  # type: ignore[arg-type]
    return Response(job_payload(job))


@extend_schema(request=None, responses={202: VideoJobSerializer}, summary="Process a job again")
@api_view(["POST"])
def video_job_reprocess(request: Request, job_id: UUID) -> Response:
    job = services.reprocess_job(actor=request.user, job_id=job_id)  # type: ignore[arg-type]
    return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)

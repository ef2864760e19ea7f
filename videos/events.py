"""The video job as clients see it: the REST body and the `data` of `video.progress`.

One builder for both, so the API and the websocket can never disagree (DESIGN.md §5).
Every value is plain JSON (the id and time are strings already), so the same dict
survives DRF's renderer, the event encoder and msgpack in Redis unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

from .models import VideoJob, empty_result

VIDEO_PROGRESS = "video.progress"


class SubtitlesPayload(TypedDict):
    vtt: str | None
    srt: str | None
    language: str | None


class JobResultPayload(TypedDict):
    public_id: str | None
    url: str | None
    duration: float | None
    format: str | None
    subtitles: SubtitlesPayload
    warning: str | None
    error: str | None


class JobPayload(TypedDict):
    id: str
    file_name: str
    upload_type: str
    content_index: int | None
    status: str
    stage: str
    progress: int
    message: str
    result: JobResultPayload
    attempt: int
    updated_at: str


JOB_PAYLOAD_KEYS = tuple(JobPayload.__annotations__)


def iso_time(moment: datetime) -> str:
    """UTC, microseconds, `Z`: one spelling for the API and the events."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def result_payload(stored: dict[str, Any] | None) -> JobResultPayload:
    """The job's stored `result`, with every key present even for old or partial rows."""
    base = empty_result()
    stored = stored or {}
    subtitles = {**base["subtitles"], **(stored.get("subtitles") or {})}
    return JobResultPayload(
        public_id=stored.get("public_id"),
        url=stored.get("url"),
        duration=stored.get("duration"),
        format=stored.get("format"),
        subtitles=SubtitlesPayload(
            vtt=subtitles["vtt"], srt=subtitles["srt"], language=subtitles["language"]
        ),
        warning=stored.get("warning"),
        error=stored.get("error"),
    )


def job_payload(job: VideoJob) -> JobPayload:
    return JobPayload(
        id=str(job.id),
        file_name=job.file_name,
        upload_type=job.upload_type,
        content_index=job.content_index,
        status=job.status,
        stage=job.stage,
        progress=job.progress,
        message=job.message,
        result=result_payload(job.result),
        attempt=job.attempt,
        updated_at=iso_time(job.updated_at),
    )

"""Writes to video jobs: upload, claim, progress, the terminal states, retries.

Every write that a client must hear about publishes the job as `video.progress`
(a kept event, to the owner) in the same transaction, sent after commit; a
rolled-back write publishes nothing. Only one worker runs a job at a time: a
worker must first win `claim_job`, a conditional update on the row, and every later
write of that worker is conditional on its claim.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import APIException, NotFound, PermissionDenied

from accounts.models import User
from courses.models import Course
from courses.permissions import can_manage_course
from elearning.transactions import after_commit
from notifications.services import notify_video_finished
from realtime.publish import publish_kept_on_commit

from .events import VIDEO_PROGRESS, job_payload
from .models import ACTIVE_STATUSES, JobStatus, UploadType, VideoJob, empty_result
from .permissions import can_reprocess_job, can_upload_videos, get_job_for_user

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""Claims per run: the first try plus two retries of transient failures (DESIGN §7)."""
RETRY_BASE_DELAY_S = 5.0
"""Backoff before retry n is RETRY_BASE_DELAY_S * 2**(n-1): 5 s, then 10 s."""
HEARTBEAT_INTERVAL_S = 5.0
DEFAULT_STALE_AFTER_S = 30.0
"""A processing job whose heartbeat is older than this has lost its worker."""
PENDING_RESEND_AFTER_S = 600.0
"""A job pending this long since its last change has its task sent again: the broker
may have lost it (a Redis restart, an enqueue that failed after the commit). The claim
in `run_job` makes a duplicate message harmless."""

STAGE_MESSAGES = {
    "queued": "Waiting for a worker",
    "probe": "Checking the file",
    "preprocess": "Preparing the video",
    "audio": "Extracting the audio and loading the speech model",
    "transcribe": "Transcribing speech",
    "subtitles": "Attaching subtitles",
    "upload": "Storing the processed video",
    "done": "Done",
    "failed": "Failed",
}
LOST_WORKER_MESSAGE = "The worker processing this video stopped; it was queued again."
GAVE_UP_MESSAGE = (
    f"Processing stopped {MAX_ATTEMPTS} times (the worker was lost or failed); giving up."
)
MISSING_SOURCE_MESSAGE = "The uploaded file is no longer available."
INTERNAL_ERROR_MESSAGE = "Processing failed because of an internal error."


class UploadRejected(APIException):
    """A request the caller must change: rendered as `{"detail", "code"}` with its status."""

    def __init__(self, detail: str, code: str, status_code: int = 400) -> None:
        super().__init__(detail, code)
        self.status_code = status_code


def stale_after_s() -> float:
    return float(getattr(settings, "VIDEO_STALE_AFTER_S", DEFAULT_STALE_AFTER_S))


def upload_path(job_id: UUID | str) -> Path:
    """Where the upload is kept: built from the job id only, never from the file name."""
    return Path(settings.VIDEO_UPLOAD_DIR) / str(UUID(str(job_id))) / "source"


def work_dir(job_id: UUID | str) -> Path:
    """The pipeline's checkpoint folder for a job (survives retries, not reprocessing)."""
    return Path(settings.VIDEO_WORK_DIR) / str(UUID(str(job_id)))


def display_name(name: str | None) -> str:
    """The uploader's file name, for display only: last path part, no control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return cleaned[:255] or "upload"


# --- upload ----------------------------------------------------------------------------


def create_job(
    *,
    actor: User,
    uploaded_file: File[Any] | None,
    upload_type: str | None,
    course_id: int | None = None,
    content_index: int | None = None,
    language: str | None = None,
    burn_subtitles: bool = False,
    enqueue: bool = True,
) -> VideoJob:
    """Validate an upload, save it to disk and create its job.

    Side effects: writes the file under VIDEO_UPLOAD_DIR/<job id>/source; publishes
    the queued job as `video.progress` and, unless `enqueue` is False (the caller runs
    it in-process, as `manage.py process_video` does), enqueues `process_video_task`
    on commit.
    Raises PermissionDenied (students), NotFound (a course that is absent or not
    the actor's) and UploadRejected (400, or 413 over the size limit).
    """
    if not can_upload_videos(actor):
        raise PermissionDenied("Only instructors and admins can upload videos.")
    if uploaded_file is None:
        raise UploadRejected("No file was uploaded (field 'file').", "file_required")
    if upload_type not in UploadType.values:
        raise UploadRejected("upload_type must be 'demo' or 'content'.", "invalid_upload_type")
    course = None
    if course_id is not None:
        course = Course.objects.filter(pk=course_id).first()
        # One answer for "absent" and "not yours", so ids cannot be probed.
        if course is None or not can_manage_course(actor, course):
            raise NotFound("No such course.")
    if content_index is not None and content_index < 0:
        raise UploadRejected("content_index must be 0 or more.", "invalid_content_index")
    language = _clean_language(language)
    size = uploaded_file.size or 0
    if size <= 0:
        raise UploadRejected("The file is empty.", "file_empty")
    if size > settings.VIDEO_MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"The file is larger than the {_format_bytes(settings.VIDEO_MAX_UPLOAD_BYTES)} limit.",
            "file_too_large",
            status_code=413,
        )

    job_id = uuid4()
    source = upload_path(job_id)
    try:
        with transaction.atomic():
            job = VideoJob.objects.create(
                id=job_id,
                owner=actor,
                file_name=display_name(uploaded_file.name),
                upload_type=upload_type,
                course=course,
                content_index=content_index,
                language=language or "",
                burn_subtitles=burn_subtitles,
                stage="queued",
                message=STAGE_MESSAGES["queued"],
                source=str(source),
                size_bytes=size,
            )
            _save_upload(uploaded_file, source)
            _publish(job)
            if enqueue:
                after_commit(f"enqueue video job {job.id}", _enqueue, job.id)
    except BaseException:
        # The row is gone with the rollback; the file must go too.
        shutil.rmtree(source.parent, ignore_errors=True)
        raise
    return job


def _clean_language(language: str | None) -> str | None:
    from .pipeline import SUPPORTED_LANGUAGES

    code = (language or "").strip().lower()
    if not code:
        return None
    if code not in SUPPORTED_LANGUAGES:
        raise UploadRejected(
            "language must be a two-letter code the speech model knows (e.g. 'en').",
            "invalid_language",
        )
    return code


def _save_upload(uploaded_file: File[Any], destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    # "x": a job's source is written once; chunks keep memory flat for large uploads.
    with destination.open("xb") as target:
        for chunk in uploaded_file.chunks():
            target.write(chunk)


def _format_bytes(size: int) -> str:
    # The pipeline's probe words its limit the same way, so both refusals read alike.
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


# --- claim, progress, terminal states ------------------------------------------------


def claim_job(job_id: UUID | str, *, worker: str) -> VideoJob | None:
    """Take a job for `worker`: pending, or processing with a stale heartbeat.

    A conditional UPDATE, so of two workers racing for one job exactly one wins;
    the loser gets None. Counts an attempt. A claim past MAX_ATTEMPTS fails the
    job instead. Publishes `video.progress` on commit.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=stale_after_s())
    with transaction.atomic():
        claimed = (
            VideoJob.objects.filter(pk=job_id)
            .filter(
                Q(status=JobStatus.PENDING)
                | Q(status=JobStatus.PROCESSING, heartbeat_at__lt=stale_before)
            )
            .update(
                status=JobStatus.PROCESSING,
                claimed_by=worker,
                heartbeat_at=now,
                attempt=F("attempt") + 1,
                updated_at=now,
            )
        )
        if not claimed:
            return None
        job = VideoJob.objects.get(pk=job_id)
        if job.attempt > MAX_ATTEMPTS:
            _finish_failed(job, GAVE_UP_MESSAGE)
            return None
        if job.progress == 0:
            job.stage = "probe"
        job.message = (
            STAGE_MESSAGES["probe"]
            if job.attempt == 1
            else f"Retrying (attempt {job.attempt} of {MAX_ATTEMPTS})"
        )
        job.save(update_fields=["stage", "message"])
        _publish(job)
    return job


def report_progress(
    job_id: UUID | str,
    progress: int,
    stage: str,
    message: str | None = None,
    *,
    claimed_by: str | None = None,
) -> bool:
    """Record progress of a processing job; returns whether anything was written.

    Progress never decreases within a run (a retry's early stages are ignored) and
    stays below 100 until the job succeeds. Nothing is written when neither the
    number nor the stage changes, so a caller may report as often as it likes.
    Ignored when the job is not processing or (with `claimed_by`) was taken over.
    Publishes `video.progress` on commit.
    """
    progress = max(0, min(int(progress), 99))
    now = timezone.now()
    with transaction.atomic():
        job = VideoJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.PROCESSING:
            return False
        if claimed_by is not None and job.claimed_by != claimed_by:
            return False
        if progress < job.progress or (progress == job.progress and stage == job.stage):
            return False
        job.progress = progress
        job.stage = stage
        job.message = message or STAGE_MESSAGES.get(stage, stage)
        job.heartbeat_at = now
        job.updated_at = now
        job.save(update_fields=["progress", "stage", "message", "heartbeat_at", "updated_at"])
        _publish(job)
    return True


def touch_heartbeat(job_id: UUID | str, *, claimed_by: str) -> bool:
    """Tell `requeue_stale_jobs` the claiming worker is alive. Publishes nothing."""
    return bool(
        VideoJob.objects.filter(
            pk=job_id, status=JobStatus.PROCESSING, claimed_by=claimed_by
        ).update(heartbeat_at=timezone.now())
    )


def complete_job(job_id: UUID | str, *, claimed_by: str, result: dict[str, Any]) -> bool:
    """Mark a processing job successful with `result`; returns whether this call did it.

    Only the claiming worker can, and only once: the job has exactly one terminal
    state. Publishes `video.progress` on commit and calls `_on_job_finished`.
    """
    now = timezone.now()
    with transaction.atomic():
        job = (
            VideoJob.objects.select_for_update()
            .filter(pk=job_id, status=JobStatus.PROCESSING, claimed_by=claimed_by)
            .first()
        )
        if job is None:
            return False
        job.status = JobStatus.SUCCESS
        job.progress = 100
        job.stage = "done"
        job.message = result.get("warning") or STAGE_MESSAGES["done"]
        job.result = {**empty_result(), **result, "error": None}
        job.heartbeat_at = None
        job.updated_at = now
        job.finished_at = now
        job.save()
        _publish(job)
        _on_job_finished(job)
    return True


def fail_job(job_id: UUID | str, *, message: str, claimed_by: str | None = None) -> bool:
    """End an unfinished job with `message`; returns whether this call did it.

    With `claimed_by`, only while that worker still holds the job. Exactly one
    terminal state: a finished job is left alone. Publishes `video.progress` on
    commit and calls `_on_job_finished`.
    """
    with transaction.atomic():
        jobs = VideoJob.objects.select_for_update().filter(pk=job_id, status__in=ACTIVE_STATUSES)
        if claimed_by is not None:
            jobs = jobs.filter(claimed_by=claimed_by)
        job = jobs.first()
        if job is None:
            return False
        _finish_failed(job, message)
    return True


def _finish_failed(job: VideoJob, message: str) -> None:
    now = timezone.now()
    job.status = JobStatus.ERROR
    job.message = message[:500]
    job.result = {**empty_result(), "error": message}
    job.heartbeat_at = None
    job.updated_at = now
    job.finished_at = now
    job.save()
    _publish(job)
    _on_job_finished(job)


def release_for_retry(job_id: UUID | str, *, claimed_by: str, message: str) -> bool:
    """Put a job whose attempt failed transiently back to pending; progress is kept."""
    with transaction.atomic():
        job = (
            VideoJob.objects.select_for_update()
            .filter(pk=job_id, status=JobStatus.PROCESSING, claimed_by=claimed_by)
            .first()
        )
        if job is None:
            return False
        job.status = JobStatus.PENDING
        job.message = message[:500]
        job.claimed_by = ""
        job.heartbeat_at = None
        job.updated_at = timezone.now()
        job.save()
        _publish(job)
    return True


def _on_job_finished(job: VideoJob) -> None:
    """The one call site for "the job has reached its terminal state".

    Runs inside the transaction that wrote the terminal state, exactly once per run
    (the writes above are conditional on the job still being unfinished). Saves the
    uploader's notification in this transaction; it is published on commit, and its
    dedupe key (job, run) keeps a retried task from notifying twice.
    """
    logger.info("video job %s finished: %s", job.id, job.status)
    succeeded = job.status == JobStatus.SUCCESS
    notify_video_finished(
        job_id=job.id,
        owner_id=job.owner_id,
        file_name=job.file_name,
        succeeded=succeeded,
        message=((job.result or {}).get("warning") or "") if succeeded else job.message,
        run=job.run,
    )


# --- reprocessing and lost workers ----------------------------------------------------


def reprocess_job(*, actor: User, job_id: UUID | str) -> VideoJob:
    """Start a new run of a finished job from its kept upload.

    Progress restarts at 0 with `run` + 1 and `attempt` 0. Raises NotFound when the
    job is absent or not the actor's, UploadRejected(409) while it is still
    active or when its upload is gone. Side effects: removes the old checkpoints,
    publishes `video.progress` and enqueues `process_video_task` on commit.
    """
    try:
        job = get_job_for_user(actor, job_id)
    except Exception as error:  # Http404 from the fetcher
        raise NotFound("No such video job.") from error
    if not can_reprocess_job(actor, job):
        raise NotFound("No such video job.")
    with transaction.atomic():
        job = VideoJob.objects.select_for_update().get(pk=job.pk)
        if job.status in ACTIVE_STATUSES:
            raise UploadRejected("The job is still being processed.", "job_active", 409)
        if not Path(job.source).is_file():
            raise UploadRejected(MISSING_SOURCE_MESSAGE, "source_missing", 409)
        job.run += 1
        job.status = JobStatus.PENDING
        job.progress = 0
        job.stage = "queued"
        job.message = STAGE_MESSAGES["queued"]
        job.result = empty_result()
        job.attempt = 0
        job.claimed_by = ""
        job.heartbeat_at = None
        job.finished_at = None
        job.updated_at = timezone.now()
        job.save()
        _publish(job)
        after_commit(f"enqueue video job {job.id}", _reset_and_enqueue, job.id)
    return job


@dataclass
class RequeueSummary:
    requeued: list[UUID] = field(default_factory=list)
    failed: list[UUID] = field(default_factory=list)
    resent: list[UUID] = field(default_factory=list)


def requeue_stale_jobs() -> RequeueSummary:
    """Rescue jobs whose worker died: requeue them, or fail them when no attempt is left.

    A job is stale when it is processing and its heartbeat is older than
    `stale_after_s()`. Publishes `video.progress` and enqueues on commit. Jobs pending
    for `PENDING_RESEND_AFTER_S` get their task sent again (publishing nothing).
    """
    summary = RequeueSummary()
    stale_before = timezone.now() - timedelta(seconds=stale_after_s())
    candidates = list(
        VideoJob.objects.filter(
            status=JobStatus.PROCESSING, heartbeat_at__lt=stale_before
        ).values_list("pk", flat=True)
    )
    for job_id in candidates:
        with transaction.atomic():
            job = (
                VideoJob.objects.select_for_update()
                .filter(pk=job_id, status=JobStatus.PROCESSING, heartbeat_at__lt=stale_before)
                .first()
            )
            if job is None:  # its worker woke up, or another sweeper got there first
                continue
            if job.attempt >= MAX_ATTEMPTS:
                _finish_failed(job, GAVE_UP_MESSAGE)
                summary.failed.append(job.pk)
                continue
            job.status = JobStatus.PENDING
            job.message = LOST_WORKER_MESSAGE
            job.claimed_by = ""
            job.heartbeat_at = None
            job.updated_at = timezone.now()
            job.save()
            _publish(job)
            after_commit(f"enqueue video job {job.pk}", _enqueue, job.pk)
            summary.requeued.append(job.pk)
    summary.resent = _resend_long_pending_jobs()
    if summary.requeued or summary.failed or summary.resent:
        logger.warning(
            "stale video jobs: requeued %s, failed %s, task sent again for %s",
            summary.requeued,
            summary.failed,
            summary.resent,
        )
    return summary


def _resend_long_pending_jobs() -> list[UUID]:
    now = timezone.now()
    cutoff = now - timedelta(seconds=PENDING_RESEND_AFTER_S)
    resent = []
    for job_id in VideoJob.objects.filter(
        status=JobStatus.PENDING, updated_at__lt=cutoff
    ).values_list("pk", flat=True):
        with transaction.atomic():
            # Touching updated_at spaces the resends one interval apart per job.
            if VideoJob.objects.filter(
                pk=job_id, status=JobStatus.PENDING, updated_at__lt=cutoff
            ).update(updated_at=now):
                after_commit(f"enqueue video job {job_id}", _enqueue, job_id)
                resent.append(job_id)
    return resent


# --- running a job --------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """What one attempt ended in. `retry_in_s` is set when the caller must retry."""

    status: str  # "success" | "error" | "retry" | "skipped"
    message: str = ""
    retry_in_s: float | None = None


ProgressObserver = Callable[[int, str], None]


def run_job(
    job_id: UUID | str, *, worker: str, on_progress: ProgressObserver | None = None
) -> RunOutcome:
    """Claim the job and run one attempt of the pipeline and the storage upload.

    Permanent failures (unusable media) end the job at once; transient ones put it
    back to pending and ask the caller to retry after a backoff, until
    MAX_ATTEMPTS. The pipeline's checkpoints in `work_dir` make a retry skip the
    stages that finished. `on_progress` sees every published (percent, stage).
    """
    from . import pipeline
    from .progress import ProgressReporter, bytes_progress

    job = claim_job(job_id, worker=worker)
    if job is None:
        return RunOutcome("skipped")
    if not Path(job.source).is_file():
        fail_job(job.pk, message=MISSING_SOURCE_MESSAGE, claimed_by=worker)
        return RunOutcome("error", MISSING_SOURCE_MESSAGE)

    def sink(percent: int, stage: str) -> None:
        report_progress(job.pk, percent, stage, claimed_by=worker)
        if on_progress is not None:
            on_progress(percent, stage)

    reporter = ProgressReporter(sink)
    options = pipeline.PipelineOptions(
        language=job.language or None,
        burn_subtitles=job.burn_subtitles,
        model=settings.WHISPER_MODEL,
        cpu_threads=settings.WHISPER_THREADS,
        limits=pipeline.Limits(
            max_bytes=settings.VIDEO_MAX_UPLOAD_BYTES,
            max_duration_s=settings.VIDEO_MAX_DURATION_S,
        ),
    )
    workdir = work_dir(job.pk)
    try:
        with _heartbeat(job.pk, worker):
            output = pipeline.run_pipeline(Path(job.source), workdir, options, reporter)
            files = {"video": output.video_path}
            if output.vtt_path is not None and output.srt_path is not None:
                files.update(vtt=output.vtt_path, srt=output.srt_path)
            stored = _storage().save(str(job.pk), files, bytes_progress(reporter.stage("upload")))
    except pipeline.PipelineError as error:
        message = _one_line(error.message)
        if error.permanent or job.attempt >= MAX_ATTEMPTS:
            fail_job(job.pk, message=message, claimed_by=worker)
            shutil.rmtree(workdir, ignore_errors=True)
            return RunOutcome("error", message)
        delay = RETRY_BASE_DELAY_S * 2 ** (job.attempt - 1)
        release_for_retry(
            job.pk, claimed_by=worker, message=f"Will retry in {delay:g} s: {message}"
        )
        return RunOutcome("retry", message, retry_in_s=delay)
    except Exception:
        # A bug, not the media or the machine: retrying would fail the same way.
        logger.exception("video job %s failed unexpectedly", job.pk)
        fail_job(job.pk, message=INTERNAL_ERROR_MESSAGE, claimed_by=worker)
        return RunOutcome("error", INTERNAL_ERROR_MESSAGE)

    has_subtitles = stored.vtt_url is not None
    result = {
        "public_id": stored.public_id,
        "url": stored.video_url,
        "duration": round(output.duration_s, 3),
        "format": "mp4",
        "subtitles": {
            "vtt": stored.vtt_url,
            "srt": stored.srt_url,
            "language": output.language if has_subtitles else None,
        },
        "warning": output.warning,
    }
    if not complete_job(job.pk, claimed_by=worker, result=result):
        return RunOutcome("skipped", "The job was taken over by another worker.")
    shutil.rmtree(workdir, ignore_errors=True)
    return RunOutcome("success", output.warning or "")


def _storage() -> Any:
    from .storage import CloudinaryStorage, LocalStorage

    if settings.CLOUDINARY_URL:
        return CloudinaryStorage(settings.CLOUDINARY_URL)
    return LocalStorage(Path(settings.MEDIA_ROOT), settings.MEDIA_URL)


def _one_line(message: str) -> str:
    first = (message or "").strip().splitlines()
    return (first[0] if first else "Processing failed.")[:500]


@contextmanager
def _heartbeat(job_id: UUID, worker: str) -> Iterator[None]:
    """Refresh the job's heartbeat from a thread while a long stage blocks this one."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT_INTERVAL_S):
                try:
                    touch_heartbeat(job_id, claimed_by=worker)
                except Exception:  # a locked database must not kill the job
                    logger.warning("heartbeat of video job %s failed", job_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# --- helpers --------------------------------------------------------------------------


def _publish(job: VideoJob) -> None:
    publish_kept_on_commit([job.owner_id], VIDEO_PROGRESS, job_payload(job))


def _enqueue(job_id: UUID) -> None:
    from .tasks import process_video_task

    process_video_task.delay(str(job_id))


def _reset_and_enqueue(job_id: UUID) -> None:
    shutil.rmtree(work_dir(job_id), ignore_errors=True)
    _enqueue(job_id)


def worker_name(prefix: str = "worker") -> str:
    """A claim label unique to this process."""
    return f"{prefix}@{os.uname().nodename}:{os.getpid()}"

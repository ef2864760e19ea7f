"""Video job services against the database, and the failure behaviour of a whole run.

Given / when / then; every test also checks what did not happen (no row, no event,
no retry). Runs call `services.run_job` (the body of `process_video_task`) directly
with the real pipeline, ffmpeg and, where speech matters, the real model.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied

from courses.models import Course
from realtime.models import KeptEvent
from tests.conftest import make_user
from videos import services
from videos.events import JOB_PAYLOAD_KEYS, job_payload
from videos.models import JobStatus, VideoJob, empty_result
from videos.pipeline import NO_AUDIO_WARNING, NO_SPEECH_WARNING, find_ffmpeg
from videos.tasks import process_video_task

REPO_ROOT = Path(__file__).resolve().parents[2]
LECTURE_MP4 = REPO_ROOT / "tests" / "fixtures" / "lecture.mp4"
STALE = services.DEFAULT_STALE_AFTER_S + 5


@pytest.fixture(autouse=True)
def video_dirs(settings, tmp_path):
    settings.VIDEO_UPLOAD_DIR = tmp_path / "uploads"
    settings.VIDEO_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CLOUDINARY_URL = None
    return settings


@pytest.fixture
def quiet_heartbeat(monkeypatch):
    # The heartbeat thread writes on its own connection; a non-transactional test
    # holds the SQLite write lock, so keep the thread idle during short runs.
    monkeypatch.setattr(services, "HEARTBEAT_INTERVAL_S", 3600.0)


def ffmpeg(*args):
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)], check=True
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("job-media")
    files = {}
    files["silent"] = folder / "silent.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3"),
        *("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", 3),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", files["silent"]),
    )
    files["no_audio"] = folder / "no-audio.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", files["no_audio"]),
    )
    files["text"] = folder / "notes.mp4"
    files["text"].write_text("These are my lecture notes, not a video.\n" * 20)
    moov_last = folder / "moov-last.mp4"
    ffmpeg("-i", LECTURE_MP4, "-c", "copy", moov_last)
    files["truncated"] = folder / "truncated.mp4"
    files["truncated"].write_bytes(moov_last.read_bytes()[: moov_last.stat().st_size // 2])
    return files


def upload(owner, content=b"not really a video", name="lecture.mp4", **extra):
    extra.setdefault("upload_type", "content")
    return services.create_job(actor=owner, uploaded_file=ContentFile(content, name=name), **extra)


def upload_path(owner, path: Path, **extra):
    return upload(owner, path.read_bytes(), name=path.name, **extra)


def events_for(user):
    return [
        json.loads(text)
        for text in KeptEvent.objects.filter(user=user, event_type="video.progress")
        .order_by("seq")
        .values_list("text", flat=True)
    ]


def processing_job(owner, *, worker="w1", attempt=1, heartbeat_age_s=0.0, progress=0):
    job = upload(owner)
    VideoJob.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING,
        claimed_by=worker,
        attempt=attempt,
        progress=progress,
        heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age_s),
    )
    return VideoJob.objects.get(pk=job.pk)


# --- upload: permission and validation ------------------------------------------------


def test_student_cannot_upload_and_nothing_is_written(student, settings):
    with pytest.raises(PermissionDenied):
        upload(student)

    assert VideoJob.objects.count() == 0
    assert not Path(settings.VIDEO_UPLOAD_DIR).exists()
    assert KeptEvent.objects.count() == 0


def test_instructor_cannot_upload_to_another_instructors_course(instructor, course):
    other = make_user("other-instructor", "instructor")

    with pytest.raises(NotFound) as caught:
        upload(other, course_id=course.pk)

    assert str(caught.value.detail) == "No such course."
    assert VideoJob.objects.count() == 0


def test_unknown_course_gets_the_same_answer_as_a_foreign_one(instructor):
    with pytest.raises(NotFound) as caught:
        upload(instructor, course_id=987654)

    assert str(caught.value.detail) == "No such course."


def test_admin_may_upload_to_any_course(admin_user, course):
    job = upload(admin_user, course_id=course.pk)

    assert job.course_id == course.pk
    assert job.owner_id == admin_user.pk


def test_upload_is_saved_under_the_job_id_never_the_file_name(
    instructor, course, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = upload(
            instructor,
            b"\x00video bytes",
            name="../../etc/x;rm -rf ~ $(id).mp4",
            course_id=course.pk,
            content_index=2,
            language="EN",
        )

    source = Path(job.source)
    assert source == Path(settings.VIDEO_UPLOAD_DIR) / str(job.id) / "source"
    assert source.read_bytes() == b"\x00video bytes"
    assert job.file_name == "x;rm -rf ~ $(id).mp4"
    assert (job.status, job.stage, job.progress, job.attempt, job.run) == (
        "pending",
        "queued",
        0,
        0,
        1,
    )
    assert (job.language, job.content_index, job.size_bytes) == ("en", 2, 12)
    assert job.result == empty_result()
    # One publish and one enqueue, both after commit.
    assert len(callbacks) == 2
    [event] = events_for(instructor)
    assert event["data"] == job_payload(job)


def test_upload_without_file_empty_or_too_large_is_refused(instructor, settings):
    settings.VIDEO_MAX_UPLOAD_BYTES = 10
    with pytest.raises(services.UploadRejected) as missing:
        services.create_job(actor=instructor, uploaded_file=None, upload_type="demo")
    with pytest.raises(services.UploadRejected) as empty:
        upload(instructor, b"")
    with pytest.raises(services.UploadRejected) as large:
        upload(instructor, b"x" * 11)
    with pytest.raises(services.UploadRejected) as bad_type:
        upload(instructor, upload_type="lecture")
    with pytest.raises(services.UploadRejected) as bad_language:
        upload(instructor, language="klingon")

    assert (missing.value.status_code, missing.value.get_codes()) == (400, "file_required")
    assert (empty.value.status_code, str(empty.value.detail)) == (400, "The file is empty.")
    assert (large.value.status_code, str(large.value.detail)) == (
        413,
        "The file is larger than the 10 bytes limit.",
    )
    assert bad_type.value.get_codes() == "invalid_upload_type"
    assert bad_language.value.get_codes() == "invalid_language"
    assert VideoJob.objects.count() == 0
    assert KeptEvent.objects.count() == 0


def test_a_failed_upload_write_rolls_back_the_row_and_publishes_nothing(
    instructor, settings, tmp_path, django_capture_on_commit_callbacks
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.VIDEO_UPLOAD_DIR = blocker  # mkdir under a file fails

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(OSError):
        upload(instructor)

    assert callbacks == []
    assert VideoJob.objects.count() == 0
    assert KeptEvent.objects.count() == 0


# --- claim ----------------------------------------------------------------------------


def test_only_one_of_two_workers_claims_a_job(instructor):
    job = upload(instructor)

    first = services.claim_job(job.pk, worker="w1")
    second = services.claim_job(job.pk, worker="w2")

    assert first is not None and second is None
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempt, job.stage) == ("processing", "w1", 1, "probe")


def test_a_stale_processing_job_can_be_claimed_by_another_worker(instructor):
    job = processing_job(instructor, heartbeat_age_s=STALE)

    claimed = services.claim_job(job.pk, worker="w2")

    assert claimed is not None
    assert (claimed.claimed_by, claimed.attempt) == ("w2", 2)
    # The old worker's writes no longer count.
    assert not services.report_progress(job.pk, 50, "transcribe", claimed_by="w1")
    assert not services.complete_job(job.pk, claimed_by="w1", result={})


def test_a_fresh_processing_job_cannot_be_claimed(instructor):
    job = processing_job(instructor, heartbeat_age_s=1)

    assert services.claim_job(job.pk, worker="w2") is None
    job.refresh_from_db()
    assert (job.claimed_by, job.attempt) == ("w1", 1)


def test_a_claim_past_the_last_attempt_fails_the_job(instructor):
    job = processing_job(instructor, attempt=services.MAX_ATTEMPTS, heartbeat_age_s=STALE)

    assert services.claim_job(job.pk, worker="w2") is None
    job.refresh_from_db()
    assert (job.status, job.message) == ("error", services.GAVE_UP_MESSAGE)


# --- progress -------------------------------------------------------------------------


def test_progress_never_decreases_within_a_run_and_repeats_write_nothing(instructor):
    job = processing_job(instructor)
    before = len(events_for(instructor))

    written = [
        services.report_progress(job.pk, 10, "preprocess", claimed_by="w1"),
        services.report_progress(job.pk, 35, "transcribe", claimed_by="w1"),
        services.report_progress(job.pk, 20, "audio", claimed_by="w1"),
        services.report_progress(job.pk, 35, "transcribe", claimed_by="w1"),
        services.report_progress(job.pk, 100, "upload", claimed_by="w1"),
    ]

    assert written == [True, True, False, False, True]
    job.refresh_from_db()
    # 100 means "done" and only `complete_job` writes it.
    assert (job.progress, job.stage, job.message) == (99, "upload", "Storing the processed video")
    progress = [event["data"]["progress"] for event in events_for(instructor)[before:]]
    assert progress == [10, 35, 99]


def test_progress_is_ignored_when_the_job_is_not_processing(instructor):
    job = upload(instructor)

    assert not services.report_progress(job.pk, 40, "transcribe")
    job.refresh_from_db()
    assert (job.progress, job.status) == (0, "pending")


# --- terminal states ------------------------------------------------------------------


def test_a_job_ends_exactly_once(instructor, monkeypatch):
    finished = []
    monkeypatch.setattr(services, "_on_job_finished", lambda job: finished.append(job.status))
    job = processing_job(instructor)
    before = len(events_for(instructor))

    completed = services.complete_job(job.pk, claimed_by="w1", result={"url": "/media/x.mp4"})
    failed = services.fail_job(job.pk, message="too late")
    completed_again = services.complete_job(job.pk, claimed_by="w1", result={})

    assert (completed, failed, completed_again) == (True, False, False)
    job.refresh_from_db()
    assert (job.status, job.progress, job.stage) == ("success", 100, "done")
    assert job.result == {**empty_result(), "url": "/media/x.mp4"}
    assert finished == ["success"]
    assert [e["data"]["status"] for e in events_for(instructor)[before:]] == ["success"]


def test_the_uploader_is_notified_once_per_run(instructor):
    from notifications.models import Notification

    job = processing_job(instructor)
    assert services.complete_job(job.pk, claimed_by="w1", result={"url": "/media/x.mp4"})
    assert not services.fail_job(job.pk, message="late")
    assert not services.complete_job(job.pk, claimed_by="w1", result={})

    rows = list(Notification.objects.filter(recipient=instructor).values_list("kind", "title"))
    assert rows == [("video_finished", f"Your video {job.file_name} is ready")]
    created = [
        json.loads(text)
        for text in KeptEvent.objects.filter(
            user=instructor, event_type="notification.created"
        ).values_list("text", flat=True)
    ]
    assert [e["data"]["notification"]["kind"] for e in created] == ["video_finished"]
    assert created[0]["data"]["unread_count"] == 1


def test_a_failed_job_cannot_succeed_later(instructor, monkeypatch):
    finished = []
    monkeypatch.setattr(services, "_on_job_finished", lambda job: finished.append(job.status))
    job = processing_job(instructor)

    assert services.fail_job(job.pk, message="The file is empty.", claimed_by="w1")
    assert not services.complete_job(job.pk, claimed_by="w1", result={})

    job.refresh_from_db()
    assert (job.status, job.message) == ("error", "The file is empty.")
    assert job.result == {**empty_result(), "error": "The file is empty."}
    assert finished == ["error"]


def test_a_rolled_back_progress_write_publishes_nothing(
    instructor, django_capture_on_commit_callbacks
):
    job = processing_job(instructor)
    before = KeptEvent.objects.count()

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.report_progress(job.pk, 40, "transcribe", claimed_by="w1")
        raise RuntimeError("the surrounding work failed")

    assert callbacks == []
    assert KeptEvent.objects.count() == before
    job.refresh_from_db()
    assert job.progress == 0


# --- lost workers and reprocessing ----------------------------------------------------


def test_a_stale_job_with_attempts_left_is_requeued(instructor, django_capture_on_commit_callbacks):
    stale = processing_job(instructor, heartbeat_age_s=STALE, progress=42)
    fresh = processing_job(instructor, worker="w9", heartbeat_age_s=1)

    with django_capture_on_commit_callbacks() as callbacks:
        summary = services.requeue_stale_jobs()

    assert (summary.requeued, summary.failed) == ([stale.pk], [])
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, stale.progress, stale.claimed_by, stale.message) == (
        "pending",
        42,
        "",
        services.LOST_WORKER_MESSAGE,
    )
    assert (fresh.status, fresh.claimed_by) == ("processing", "w9")
    assert len(callbacks) == 2  # the event and the enqueue


def test_a_job_pending_too_long_has_its_task_sent_again_once_per_interval(
    instructor, monkeypatch, django_capture_on_commit_callbacks
):
    # Given a job the broker lost (pending for longer than the resend interval) and one
    # that was queued a moment ago
    sent: list[str] = []
    monkeypatch.setattr(services, "_enqueue", lambda job_id: sent.append(str(job_id)))
    lost = upload(instructor)
    long_ago = timezone.now() - timedelta(seconds=services.PENDING_RESEND_AFTER_S + 5)
    VideoJob.objects.filter(pk=lost.pk).update(updated_at=long_ago)
    recent = upload(instructor)
    events_before = KeptEvent.objects.count()

    # When the sweep runs twice in a row
    with django_capture_on_commit_callbacks(execute=True):
        first = services.requeue_stale_jobs()
    with django_capture_on_commit_callbacks(execute=True):
        second = services.requeue_stale_jobs()

    # Then the lost job's task was sent once, the recent one's not at all, nothing was
    # published, and the job itself is unchanged but for its clock
    assert (first.resent, first.requeued, first.failed) == ([lost.pk], [], [])
    assert (second.resent, second.requeued, second.failed) == ([], [], [])
    assert sent == [str(lost.pk)]
    assert KeptEvent.objects.count() == events_before
    lost.refresh_from_db()
    assert (lost.status, lost.progress, lost.attempt) == ("pending", 0, 0)
    assert lost.updated_at > long_ago
    recent.refresh_from_db()
    assert recent.status == "pending"


def test_a_broker_down_at_upload_loses_neither_the_job_nor_the_request(
    instructor, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(job_id):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(services, "_enqueue", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        job = upload(instructor)

    # The failure after the commit is logged, the job waits for the resend sweep
    job.refresh_from_db()
    assert (job.status, job.stage) == ("pending", "queued")
    assert Path(job.source).exists()


def test_a_stale_job_on_its_last_attempt_fails_with_a_clear_message(instructor, monkeypatch):
    finished = []
    monkeypatch.setattr(services, "_on_job_finished", lambda job: finished.append(job.status))
    job = processing_job(instructor, attempt=services.MAX_ATTEMPTS, heartbeat_age_s=STALE)

    summary = services.requeue_stale_jobs()

    assert (summary.requeued, summary.failed) == ([], [job.pk])
    job.refresh_from_db()
    assert (job.status, job.message) == ("error", services.GAVE_UP_MESSAGE)
    assert job.result["error"] == services.GAVE_UP_MESSAGE
    assert finished == ["error"]


def test_reprocess_starts_a_new_run_at_zero(instructor, django_capture_on_commit_callbacks):
    job = processing_job(instructor, progress=70)
    services.fail_job(job.pk, message="boom")

    with django_capture_on_commit_callbacks() as callbacks:
        again = services.reprocess_job(actor=instructor, job_id=job.pk)

    assert (again.status, again.progress, again.attempt, again.run, again.stage) == (
        "pending",
        0,
        0,
        2,
        "queued",
    )
    assert again.result == empty_result()
    assert len(callbacks) == 2


def test_reprocess_is_refused_while_active_and_for_other_people(instructor, student):
    job = upload(instructor)
    other = make_user("other-instructor", "instructor")

    with pytest.raises(services.UploadRejected) as active:
        services.reprocess_job(actor=instructor, job_id=job.pk)
    with pytest.raises(NotFound):
        services.reprocess_job(actor=other, job_id=job.pk)
    with pytest.raises(NotFound):
        services.reprocess_job(actor=student, job_id=job.pk)

    assert (active.value.status_code, active.value.get_codes()) == (409, "job_active")
    job.refresh_from_db()
    assert (job.run, job.status) == (1, "pending")


# --- whole runs: failure behaviour ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "The file is empty."),
        ("truncated", "The file is incomplete or damaged."),
        ("text", "The file is not a video we can read."),
    ],
)
def test_unusable_media_fails_at_probe_without_retry(
    instructor, media, name, message, quiet_heartbeat, django_capture_on_commit_callbacks
):
    if name == "empty":
        # The API refuses empty uploads; this is the worker's own guard (a file
        # emptied on disk after the upload was accepted).
        job = upload(instructor, b"x")
        Path(job.source).write_bytes(b"")
    else:
        job = upload_path(instructor, media[name])

    with django_capture_on_commit_callbacks() as callbacks:
        outcome = services.run_job(job.pk, worker="w1")

    assert (outcome.status, outcome.message, outcome.retry_in_s) == ("error", message, None)
    job.refresh_from_db()
    assert (job.status, job.stage, job.message, job.attempt) == ("error", "probe", message, 1)
    assert job.result == {**empty_result(), "error": message}
    enqueued = [c for c in callbacks if getattr(c, "func", None) is services._enqueue]
    assert enqueued == []
    assert not services.work_dir(job.pk).exists()


def test_the_task_reports_a_permanent_failure_without_retrying(instructor, media, quiet_heartbeat):
    job = upload_path(instructor, media["text"])

    assert process_video_task(str(job.pk)) == "error"
    job.refresh_from_db()
    assert (job.status, job.attempt) == ("error", 1)


def test_a_video_without_audio_succeeds_with_a_warning_and_no_subtitles(
    instructor, media, settings, quiet_heartbeat
):
    job = upload_path(instructor, media["no_audio"])

    outcome = services.run_job(job.pk, worker="w1")

    assert outcome.status == "success"
    job.refresh_from_db()
    assert (job.status, job.progress, job.stage, job.message) == (
        "success",
        100,
        "done",
        NO_AUDIO_WARNING,
    )
    assert job.result["warning"] == NO_AUDIO_WARNING
    assert job.result["subtitles"] == {"vtt": None, "srt": None, "language": None}
    assert job.result["url"] == f"/media/videos/{job.pk}/video.mp4"
    assert job.result["public_id"] == f"videos/{job.pk}"
    assert job.result["format"] == "mp4"
    assert job.result["duration"] == pytest.approx(2.0, abs=0.2)
    assert (Path(settings.MEDIA_ROOT) / "videos" / str(job.pk) / "video.mp4").stat().st_size > 0
    assert not (Path(settings.MEDIA_ROOT) / "videos" / str(job.pk) / "subtitles.vtt").exists()
    progress = [e["data"]["progress"] for e in events_for(instructor)]
    assert progress == sorted(progress) and progress[-1] == 100
    assert [e["data"]["status"] for e in events_for(instructor)].count("success") == 1


@pytest.mark.slow
def test_a_silent_video_succeeds_with_a_warning_and_no_subtitles(
    instructor, media, quiet_heartbeat
):
    job = upload_path(instructor, media["silent"])

    outcome = services.run_job(job.pk, worker="w1")

    assert outcome.status == "success"
    job.refresh_from_db()
    assert (job.status, job.message) == ("success", NO_SPEECH_WARNING)
    assert job.result["warning"] == NO_SPEECH_WARNING
    assert job.result["subtitles"] == {"vtt": None, "srt": None, "language": None}


@pytest.mark.slow
def test_a_transient_ffmpeg_failure_is_retried_without_redoing_finished_stages(
    instructor, media, tmp_path, monkeypatch, quiet_heartbeat, django_capture_on_commit_callbacks
):
    # An ffmpeg that fails on its second call (audio extraction), after the video
    # stage finished; it logs every call's output file.
    calls = tmp_path / "calls.log"
    wrapper = tmp_path / "ffmpeg-flaky"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'for last; do :; done; echo "$last" >> "{calls}"\n'
        f'if [ "$(wc -l < "{calls}")" -eq 2 ]; then echo "simulated crash" >&2; exit 1; fi\n'
        f'exec "{find_ffmpeg()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("FFMPEG_BINARY", str(wrapper))
    job = upload_path(instructor, media["silent"])

    with django_capture_on_commit_callbacks() as callbacks:
        first = services.run_job(job.pk, worker="w1")
    job.refresh_from_db()
    progress_after_failure = job.progress
    status_after_failure = job.status

    second = services.run_job(job.pk, worker="w2")

    assert (first.status, first.retry_in_s) == ("retry", services.RETRY_BASE_DELAY_S)
    assert "simulated crash" in first.message or "exit code 1" in first.message
    assert status_after_failure == "pending"
    assert progress_after_failure >= 10
    assert [c for c in callbacks if getattr(c, "func", None) is services._enqueue] == []
    assert second.status == "success"
    job.refresh_from_db()
    assert (job.status, job.attempt, job.message) == ("success", 2, NO_SPEECH_WARNING)
    outputs = [Path(line).name for line in calls.read_text().splitlines()]
    assert outputs == ["video.part.mp4", "audio.part.wav", "audio.part.wav"]
    progress = [e["data"]["progress"] for e in events_for(instructor)]
    assert progress == sorted(progress)


def test_the_task_asks_celery_to_retry_a_transient_failure(
    instructor, media, tmp_path, monkeypatch, quiet_heartbeat
):
    broken = tmp_path / "ffmpeg-broken"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("FFMPEG_BINARY", str(broken))
    job = upload_path(instructor, media["no_audio"])

    with pytest.raises(Retry):
        process_video_task(str(job.pk))

    job.refresh_from_db()
    assert (job.status, job.attempt, job.claimed_by) == ("pending", 1, "")
    assert job.message.startswith("Will retry in 5 s: ffmpeg failed with exit code 1")


def test_the_last_transient_failure_ends_the_job(
    instructor, media, tmp_path, monkeypatch, quiet_heartbeat
):
    broken = tmp_path / "ffmpeg-broken"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("FFMPEG_BINARY", str(broken))
    job = upload_path(instructor, media["no_audio"])

    outcomes = [services.run_job(job.pk, worker=f"w{n}").status for n in range(1, 5)]

    assert outcomes == ["retry", "retry", "error", "skipped"]
    job.refresh_from_db()
    assert (job.status, job.attempt) == ("error", 3)
    assert job.message.startswith("ffmpeg failed with exit code 1")


def test_job_payload_has_exactly_the_contract_keys(instructor):
    job = upload(instructor)

    payload = job_payload(job)

    assert (
        tuple(payload)
        == JOB_PAYLOAD_KEYS
        == (
            "id",
            "file_name",
            "upload_type",
            "content_index",
            "status",
            "stage",
            "progress",
            "message",
            "result",
            "attempt",
            "updated_at",
        )
    )
    assert payload["updated_at"].endswith("Z")
    assert json.loads(json.dumps(payload)) == payload


def test_course_deletion_keeps_the_job(instructor, course):
    job = upload(instructor, course_id=course.pk)

    Course.objects.filter(pk=course.pk).delete()

    job.refresh_from_db()
    assert job.course_id is None

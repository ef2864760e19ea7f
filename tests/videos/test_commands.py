"""`manage.py process_video` and `manage.py reprocess_videos`."""

from __future__ import annotations

import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from videos import services
from videos.models import JobStatus, VideoJob
from videos.pipeline import find_ffmpeg


@pytest.fixture(autouse=True)
def video_dirs(settings, tmp_path, monkeypatch):
    settings.VIDEO_UPLOAD_DIR = tmp_path / "uploads"
    settings.VIDEO_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CLOUDINARY_URL = None
    # See test_jobs.quiet_heartbeat: no second writer during non-transactional tests.
    monkeypatch.setattr(services, "HEARTBEAT_INTERVAL_S", 3600.0)
    return settings


@pytest.fixture(scope="module")
def no_audio_mp4(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cmd") / "silent film.mp4"
    subprocess.run(
        [
            find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_process_video_runs_the_pipeline_in_process_and_prints_progress(instructor, no_audio_mp4):
    out, _ = run("process_video", str(no_audio_mp4), "--user", instructor.username)

    job = VideoJob.objects.get()
    assert (job.status, job.progress, job.attempt, job.owner_id) == (
        "success",
        100,
        1,
        instructor.pk,
    )
    assert job.file_name == "silent film.mp4"
    lines = out.splitlines()
    assert lines[0] == f"job {job.pk}"
    # Not a terminal: plain lines, one per published change, rising.
    percents = [int(line.split("%")[0]) for line in lines[1:] if line[:3].strip().isdigit()]
    assert percents == sorted(percents) and len(percents) >= 3
    assert f"100% done: /media/videos/{job.pk}/video.mp4" in out
    assert "The video has no audio track; no subtitles were made." in out


def test_process_video_fails_with_the_message_and_a_nonzero_exit(instructor, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 50)

    with pytest.raises(CommandError) as caught:
        run("process_video", str(notes), "--user", instructor.username)

    assert str(caught.value) == "Processing failed: The file is not a video we can read."
    assert VideoJob.objects.get().status == JobStatus.ERROR


def test_process_video_refuses_students_and_unknown_users(student, no_audio_mp4):
    with pytest.raises(CommandError) as refused:
        run("process_video", str(no_audio_mp4), "--user", student.username)
    with pytest.raises(CommandError) as unknown:
        run("process_video", str(no_audio_mp4), "--user", "nobody")

    assert str(refused.value) == "Only instructors and admins can upload videos."
    assert str(unknown.value) == "No such user: nobody"
    assert VideoJob.objects.count() == 0


def failed_job(owner) -> VideoJob:
    job = services.create_job(
        actor=owner, uploaded_file=ContentFile(b"x", name="a.mp4"), upload_type="demo"
    )
    services.claim_job(job.pk, worker="w1")
    services.fail_job(job.pk, message="The file is not a video we can read.")
    return VideoJob.objects.get(pk=job.pk)


def test_reprocess_dry_run_lists_and_changes_nothing(instructor):
    failed = failed_job(instructor)
    pending = services.create_job(
        actor=instructor, uploaded_file=ContentFile(b"x", name="b.mp4"), upload_type="demo"
    )

    out, _ = run("reprocess_videos", "--status", "failed", "--dry-run")

    assert out.splitlines() == [
        f"would reprocess {failed.pk} error instructor 'a.mp4'",
        "1 job(s) would be reprocessed",
    ]
    failed.refresh_from_db()
    assert (failed.status, failed.run) == ("error", 1)
    pending.refresh_from_db()
    assert pending.run == 1


def test_reprocess_queues_failed_jobs_and_skips_active_ones(instructor):
    failed = failed_job(instructor)
    active = services.create_job(
        actor=instructor, uploaded_file=ContentFile(b"x", name="b.mp4"), upload_type="demo"
    )

    out, _ = run("reprocess_videos", str(failed.pk), str(active.pk))

    assert out.splitlines() == [
        f"skip {active.pk} (pending): still being processed",
        f"queued {failed.pk} (run 2)",
        "1 job(s) queued",
    ]
    failed.refresh_from_db()
    assert (failed.status, failed.run, failed.progress) == ("pending", 2, 0)


def test_reprocess_needs_a_selection_and_known_ids(instructor):
    with pytest.raises(CommandError) as nothing:
        run("reprocess_videos")
    with pytest.raises(CommandError) as unknown:
        run("reprocess_videos", "00000000-0000-0000-0000-000000000000")

    assert str(nothing.value) == "Give job ids, --status or --all."
    assert str(unknown.value) == "No such job(s): 00000000-0000-0000-0000-000000000000"

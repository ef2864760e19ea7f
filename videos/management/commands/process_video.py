"""`manage.py process_video PATH --user USERNAME`: upload and process a video in-process.

The job is created by the same service as an API upload and run by the same code as
the Celery task (retries included, with their backoff), without the broker.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import APIException
from tqdm import tqdm

from accounts.models import User
from videos import services
from videos.models import JobStatus, UploadType, VideoJob


class Command(BaseCommand):
    help = "Upload a video as USERNAME and process it here, showing progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--user", required=True, help="the uploader's username")
        parser.add_argument("--course", type=int, default=None, help="course id")
        parser.add_argument("--language", default=None, help="e.g. en (default: detect)")
        parser.add_argument("--burn", action="store_true", help="burn the subtitles in")
        parser.add_argument(
            "--upload-type", choices=UploadType.values, default=UploadType.CONTENT.value
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No such user: {options['user']}")
        try:
            with path.open("rb") as handle:
                job = services.create_job(
                    actor=user,
                    uploaded_file=File(handle, name=path.name),
                    upload_type=options["upload_type"],
                    course_id=options["course"],
                    language=options["language"],
                    burn_subtitles=options["burn"],
                    enqueue=False,
                )
        except APIException as error:
            raise CommandError(str(error.detail)) from error
        self.stdout.write(f"job {job.id}")
        self._run(job)

    def _run(self, job: VideoJob) -> None:
        worker = services.worker_name("process_video")
        interactive = sys.stderr.isatty()
        bar = tqdm(total=100, unit="%", file=sys.stderr, disable=not interactive)
        shown = 0

        def on_progress(percent: int, stage: str) -> None:
            nonlocal shown
            if interactive:
                bar.set_description(stage)
                bar.update(max(0, percent - shown))
            else:
                self.stdout.write(f"{percent:3d}% {stage}")
            shown = max(shown, percent)

        try:
            while True:
                outcome = services.run_job(job.pk, worker=worker, on_progress=on_progress)
                if outcome.retry_in_s is None:
                    break
                self.stderr.write(f"retrying in {outcome.retry_in_s:g} s: {outcome.message}")
                time.sleep(outcome.retry_in_s)
        finally:
            bar.close()
        job.refresh_from_db()
        if job.status != JobStatus.SUCCESS:
            raise CommandError(f"Processing failed: {job.message}")
        result = job.result
        self.stdout.write(self.style.SUCCESS(f"100% done: {result['url']}"))
        if result["subtitles"]["vtt"]:
            self.stdout.write(
                f"subtitles: {result['subtitles']['vtt']} {result['subtitles']['srt']}"
            )
        if result.get("warning"):
            self.stdout.write(self.style.WARNING(result["warning"]))

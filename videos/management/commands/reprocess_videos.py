"""`manage.py reprocess_videos [IDS...] [--status failed] [--all] [--dry-run]`.

Queues new runs through `services.reprocess_job` (acting as each job's owner, so the
service's permission check still holds); a worker processes them.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from rest_framework.exceptions import APIException
from tqdm import tqdm

from videos import services
from videos.models import ACTIVE_STATUSES, JobStatus, VideoJob

STATUS_ALIASES = {"failed": JobStatus.ERROR, "error": JobStatus.ERROR, "success": JobStatus.SUCCESS}


class Command(BaseCommand):
    help = "Process finished video jobs again (by id, by status, or all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", help="job ids")
        parser.add_argument("--status", choices=sorted(STATUS_ALIASES), default=None)
        parser.add_argument("--all", action="store_true", help="every finished job")
        parser.add_argument("--dry-run", action="store_true", help="only list the jobs")

    def handle(self, *args: Any, **options: Any) -> None:
        jobs = self._select(options)
        finished = [job for job in jobs if job.status not in ACTIVE_STATUSES]
        for job in jobs:
            if job.status in ACTIVE_STATUSES:
                self.stdout.write(f"skip {job.id} ({job.status}): still being processed")
        if options["dry_run"]:
            for job in finished:
                self.stdout.write(
                    f"would reprocess {job.id} {job.status} {job.owner.username} {job.file_name!r}"
                )
            self.stdout.write(f"{len(finished)} job(s) would be reprocessed")
            return
        failures = 0
        for job in tqdm(finished, unit="job", file=sys.stderr, disable=not sys.stderr.isatty()):
            try:
                services.reprocess_job(actor=job.owner, job_id=job.pk)
            except APIException as error:
                failures += 1
                self.stderr.write(f"{job.id}: {error.detail}")
            else:
                self.stdout.write(f"queued {job.id} (run {job.run + 1})")
        self.stdout.write(f"{len(finished) - failures} job(s) queued")
        if failures:
            raise CommandError(f"{failures} job(s) could not be queued")

    def _select(self, options: dict[str, Any]) -> list[VideoJob]:
        ids: list[str] = options["ids"]
        if not ids and not options["status"] and not options["all"]:
            raise CommandError("Give job ids, --status or --all.")
        jobs: QuerySet[VideoJob] = VideoJob.objects.select_related("owner").order_by("created_at")
        if ids:
            try:
                jobs = jobs.filter(pk__in=ids)
                found = {str(pk) for pk in jobs.values_list("pk", flat=True)}
            except Exception as error:  # a malformed uuid
                raise CommandError(f"Bad job id: {error}") from error
            missing = [job_id for job_id in ids if job_id not in found]
            if missing:
                raise CommandError(f"No such job(s): {', '.join(missing)}")
        if options["status"]:
            jobs = jobs.filter(status=STATUS_ALIASES[options["status"]])
        return list(jobs)

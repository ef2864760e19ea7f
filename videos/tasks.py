"""Celery tasks of the video queue: ids in, one service call (STYLE.md).

Both run on the `videos` queue (CELERY_TASK_ROUTES routes `videos.tasks.*` there).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready

from . import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=None)
def process_video_task(self: Task, job_id: str) -> str:
    """Run one attempt of a job; schedule the next attempt after a transient failure.

    Acknowledged late, so a killed worker's job is delivered again; the claim in
    `services.run_job` keeps a redelivered or duplicate message from running a
    job twice. Attempts are counted on the job row, not by Celery.
    """
    worker = f"{self.request.hostname or services.worker_name()}/{self.request.id}"
    outcome = services.run_job(job_id, worker=worker)
    if outcome.retry_in_s is not None:
        raise self.retry(countdown=outcome.retry_in_s)
    return outcome.status


@shared_task
def requeue_stale_jobs_task() -> dict[str, int]:
    summary = services.requeue_stale_jobs()
    return {
        "requeued": len(summary.requeued),
        "failed": len(summary.failed),
        "resent": len(summary.resent),
    }


@worker_ready.connect
def _requeue_stale_jobs_on_start(sender: Any = None, **kwargs: Any) -> None:
    # Infrastructure, not business logic: a worker that starts after a crash should
    # not wait for the next beat tick to rescue the jobs the dead one held.
    requeue_stale_jobs_task.delay()

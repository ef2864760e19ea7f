from celery import shared_task

from .streams import trim_event_logs


@shared_task
def trim_event_logs_task() -> int:
    return trim_event_logs()

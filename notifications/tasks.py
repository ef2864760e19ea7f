from celery import shared_task

from .services import deliver_announcement


@shared_task
def deliver_announcement_task(announcement_id: int) -> int:
    return deliver_announcement(announcement_id=announcement_id)

from celery import shared_task

from .services import sweep


@shared_task
def sweep_presence_task() -> None:
    """Beat runs this every 10 s; it matters when no server process is alive to sweep."""
    sweep()

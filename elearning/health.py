"""`GET /healthz`: 200 when the database, Redis and a worker answer; 503 naming what is down."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _redis() -> str | None:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
        client.close()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _worker() -> str | None:
    try:
        replies = celery_app.control.ping(timeout=1.0, limit=1)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None if replies else "no Celery worker answered within 1 s"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    problems = {"database": _database(), "redis": _redis()}
    # Without Redis the worker cannot be asked; say so once, not twice.
    problems["worker"] = _worker() if problems["redis"] is None else "unreachable without Redis"
    down = [name for name, problem in problems.items() if problem]
    body = {
        "status": "down" if down else "ok",
        "down": down,
        "checks": {name: problem or "ok" for name, problem in problems.items()},
    }
    response = JsonResponse(body, status=503 if down else 200)
    if down:
        # A 503 here is the answer, not a server error: one warning naming what is down
        # instead of Django's "ERROR Service Unavailable" (which `make run` would print
        # while its worker starts).
        logger.warning("healthz: down: %s", ", ".join(down))
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response

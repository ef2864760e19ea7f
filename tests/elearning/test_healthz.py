"""`GET /healthz`: 200 with every part up, 503 naming exactly what is down."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from elearning.devservices import free_port
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.slow
def test_healthz_is_200_when_database_redis_and_a_worker_answer() -> None:
    with celery_worker():
        response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "down": [],
        "checks": {"database": "ok", "redis": "ok", "worker": "ok"},
    }


def test_healthz_names_the_missing_worker_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given Redis and the database up, and no worker running
    with caplog.at_level(logging.WARNING):
        response = Client().get("/healthz")

    # Then 503 names the worker alone, logged as one warning, not as a server error
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["down"]) == ("down", ["worker"])
    assert body["checks"] == {
        "database": "ok",
        "redis": "ok",
        "worker": "no Celery worker answered within 1 s",
    }
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("elearning.health", "WARNING", "healthz: down: worker")
    ]


def test_healthz_names_redis_and_does_not_ask_the_worker_without_it(settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    response = Client().get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis", "worker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("ConnectionError: ")
    assert body["checks"]["worker"] == "unreachable without Redis"

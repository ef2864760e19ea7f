"""Entry point for the shared fan-out benchmark's publisher (`../shared/bench/fanout`).

    run.py elearning --project . --publish-adapter realtime.bench_adapter:publish_bench_event

It publishes through the same function a service running in a Celery task calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .publish import publish_on_commit


def publish_bench_event(group: str, event_type: str, data: Mapping[str, Any]) -> None:
    publish_on_commit(group, event_type, data)

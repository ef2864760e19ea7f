"""The publish module when the channel layer fails: the write stands, later hooks run."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import transaction

from accounts.models import User
from realtime.models import KeptEvent
from realtime.publish import publish_kept_on_commit, publish_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


def test_failing_channel_layer_loses_no_commit_and_no_later_hook(
    student: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a channel layer that refuses every send (Redis is down)
    def layer_down(*args: Any) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("realtime.publish._send_stamped", layer_down)
    monkeypatch.setattr("realtime.publish._send_text", layer_down)
    ran_after: list[str] = []

    # When a transaction publishes, then registers more work after its events
    with caplog.at_level(logging.ERROR, logger="elearning.transactions"), transaction.atomic():
        publish_kept_on_commit([student.pk], "video.progress", {"progress": 5})
        publish_on_commit("course.1", "course.viewers", {"course_id": 1, "count": 2})
        transaction.on_commit(lambda: ran_after.append("enqueue"))

    # Then the kept event is in the log for `resume`, the later hook ran,
    # and each failure was logged by name instead of escaping the commit
    assert list(KeptEvent.objects.filter(user=student).values_list("seq", flat=True)) == [1]
    assert ran_after == ["enqueue"]
    assert [record.getMessage() for record in caplog.records] == [
        "after commit: send video.progress failed: Redis is down",
        "after commit: send course.viewers to course.1 failed: Redis is down",
    ]
    assert [record.exc_info for record in caplog.records] == [None, None]

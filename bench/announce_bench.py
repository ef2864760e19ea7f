"""Announcement fan-out: 2 000 active users (plus inactive ones that must be skipped).

Runs the Celery task's function in-process on a fresh SQLite database with the real Redis
channel layer (every notification.created is really published after its batch commits).

    .venv/bin/python scripts/with_redis.py -- .venv/bin/python bench/announce_bench.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
workdir = tempfile.mkdtemp(prefix="announce-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elearning.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from notifications.models import Announcement, Notification  # noqa: E402
from notifications.services import deliver_announcement  # noqa: E402


class QueryCounter:
    """Counts every statement sent to the database (query logging caps at 9 000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Timed:
    """Wraps a function and adds up the wall time spent in it."""

    def __init__(self, module: object, name: str) -> None:
        self.inner = getattr(module, name)
        self.seconds = 0.0
        setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


ACTIVE = int(os.environ.get("BENCH_USERS", "2000"))
INACTIVE = 200


def main() -> None:
    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="bench-admin", role=Role.ADMIN)
    users = [User(username=f"u{i}", role=Role.STUDENT) for i in range(ACTIVE)]
    users += [
        User(username=f"gone{i}", role=Role.STUDENT, is_active=False) for i in range(INACTIVE)
    ]
    User.objects.bulk_create(users, batch_size=1000)
    announcement = Announcement.objects.create(
        created_by=admin, audience="everyone", title="Maintenance", body="Tonight at 22:00"
    )

    import notifications.services
    import realtime.publish

    keeping = Timed(notifications.services, "publish_kept_on_commit")
    sending = Timed(realtime.publish, "_send_stamped")
    queries = QueryCounter()
    with connection.execute_wrapper(queries):
        started = time.perf_counter()
        written = deliver_announcement(announcement_id=announcement.pk)
        elapsed = time.perf_counter() - started

    retry_queries = QueryCounter()
    with connection.execute_wrapper(retry_queries):
        retry_started = time.perf_counter()
        rewritten = deliver_announcement(announcement_id=announcement.pk)
        retry_elapsed = time.perf_counter() - retry_started

    inactive_notified = Notification.objects.filter(recipient__is_active=False).count()
    assert written == ACTIVE, written
    assert rewritten == 0, rewritten
    assert inactive_notified == 0
    assert Notification.objects.count() == ACTIVE

    print(f"recipients written      {written} (inactive skipped: {INACTIVE}, notified: 0)")
    print(f"fan-out time            {elapsed:.2f} s ({elapsed / written * 1e3:.2f} ms/recipient)")
    print(f"queries                 {queries.count} ({queries.count / written:.2f} per recipient)")
    print(f"  logging kept events   {keeping.seconds:.2f} s (realtime.streams.keep_events)")
    print(f"  sending after commit  {sending.seconds:.2f} s (one async_to_sync per recipient)")
    print(f"retry (all skipped)     {retry_elapsed:.2f} s, {retry_queries.count} queries")


if __name__ == "__main__":
    main()

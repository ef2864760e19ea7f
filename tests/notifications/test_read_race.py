"""Mark-all-read racing with new notifications and a single read from another tab.

Writers run in real threads (own database connections) while two sockets of the
same user are open; at the end, on every socket, the event with the highest `seq` carries
the database's count, and the counts in seq order tell one consistent story.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from notifications import services
from notifications.models import Notification
from realtime.models import KeptEvent
from tests.conftest import api_client
from tests.notifications.test_ws import UNRELATED

pytestmark = pytest.mark.django_db(transaction=True)

NEW_NOTIFICATIONS = 15
MARK_ALLS = 4


def in_thread(work) -> threading.Thread:
    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def note(user_id: int, key: str) -> None:
    services.create_notifications(
        [services.NotificationSpec(recipient_id=user_id, kind="announcement", title=key)],
        dedupe_key=key,
    )


async def collect(tab) -> dict[int, dict]:
    """Every notification event the socket received, by seq, until it goes quiet."""
    events: dict[int, dict] = {}
    pending = list(tab.backlog)
    tab.backlog.clear()
    while True:
        for event in pending:
            if event["type"] in UNRELATED:
                continue
            assert event["type"] in ("notification.created", "notification.read"), event
            assert event["seq"] not in events, "an event arrived twice"
            events[event["seq"]] = event
        pending = []
        if await tab.communicator.receive_nothing(timeout=1.0):
            return events
        pending.append(await tab.receive())


async def test_unread_count_converges_to_database_under_racing_writes(open_socket, student):
    for i in range(3):
        await database_sync_to_async(note)(student.pk, f"before-{i}")
    single = await Notification.objects.filter(recipient=student).aearliest("id")
    opened_at_seq = await KeptEvent.objects.filter(user=student).acount()
    tab1 = await open_socket(student)
    tab2 = await open_socket(student)

    def create_many() -> None:
        for i in range(NEW_NOTIFICATIONS):
            note(student.pk, f"racing-{i}")

    def mark_all_many() -> None:
        client = api_client(student)
        for _ in range(MARK_ALLS):
            assert client.post("/api/notifications/read-all/").status_code == 200

    threads = [in_thread(create_many), in_thread(mark_all_many)]
    ack = await tab2.command("notification.read", {"id": single.pk})
    assert ack["type"] == "ack"
    await asyncio.gather(*(asyncio.to_thread(t.join) for t in threads))

    db_count = await Notification.objects.filter(recipient=student, is_read=False).acount()
    kept = {
        seq
        async for seq in KeptEvent.objects.filter(user=student, seq__gt=opened_at_seq).values_list(
            "seq", flat=True
        )
    }
    for tab in (tab1, tab2):
        events = await collect(tab)
        assert set(events) == kept  # every kept event reached every tab, none twice
        last = events[max(events)]
        assert last["data"]["unread_count"] == db_count
        # Replaying the counts in seq order: each creation adds exactly one, each
        # mark-all leaves zero; no event was computed from a stale count.
        count = None
        for seq in sorted(events):
            data = events[seq]["data"]
            if events[seq]["type"] == "notification.created":
                if count is not None:
                    assert data["unread_count"] == count + 1, (seq, data)
            elif data["all"]:
                assert data["unread_count"] == 0, (seq, data)
            else:
                if count is not None:
                    assert data["unread_count"] == count - len(data["ids"]), (seq, data)
            count = data["unread_count"]

"""Presence through the full ASGI stack with the real Redis (one process; see
test_processes.py for two web server processes and SIGKILL)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from accounts.models import Role, User
from courses.models import Course, Lesson, Purchase
from presence import services
from presence.events import course_viewers, presence_changed
from presence.store import async_store, key
from presence.tasks import sweep_presence_task
from realtime.envelope import encode_data
from tests.conftest import api_client, make_user

from .conftest import connect, events_of

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def get_json(user: User, url: str) -> tuple[int, Any]:
    response = api_client(user).get(url)
    return response.status_code, response.json()


def online_ids(body: dict[str, Any]) -> dict[int, int]:
    return {u["user_id"]: u["connections"] for u in body["users"]}


async def test_three_tabs_are_one_online_user_until_the_last_closes(
    student: User, admin_user: User
) -> None:
    admin = await connect(admin_user)
    own = await events_of(admin, "presence.changed")
    assert [e["data"]["user_id"] for e in own] == [admin_user.pk]

    tabs = [await connect(student) for _ in range(3)]
    changed = await events_of(admin, "presence.changed")
    assert [e["data"] for e in changed] == [
        {"user_id": student.pk, "is_online": True, "last_seen": None, "reason": "connect"}
    ]
    status, body = await get_json(admin_user, "/api/presence/online/")
    assert status == 200
    assert online_ids(body) == {admin_user.pk: 1, student.pk: 3}
    assert body["count"] == 2
    assert all(u["stale"] is False for u in body["users"])

    await tabs[0].close()
    await tabs[1].close()
    assert await events_of(admin, "presence.changed") == []
    status, body = await get_json(admin_user, "/api/presence/online/")
    assert online_ids(body) == {admin_user.pk: 1, student.pk: 1}

    before = int(time.time())
    await tabs[2].close()
    changed = await events_of(admin, "presence.changed")
    assert len(changed) == 1
    data = changed[0]["data"]
    assert data["user_id"] == student.pk and data["is_online"] is False
    assert data["reason"] == "disconnect" and data["last_seen"].endswith("Z")
    status, body = await get_json(admin_user, "/api/presence/online/")
    assert online_ids(body) == {admin_user.pk: 1}
    assert [r["user_id"] for r in body["recently_offline"]] == [student.pk]
    last_seen = datetime.fromisoformat(body["recently_offline"][0]["last_seen"]).timestamp()
    assert before <= last_seen <= time.time()
    assert body["recently_offline"][0]["last_seen"] == data["last_seen"]
    await admin.close()


@pytest.mark.parametrize("persona", ["student", "instructor"])
def test_online_list_is_refused_to_non_admins(request: pytest.FixtureRequest, persona: str) -> None:
    user = request.getfixturevalue(persona)
    response = api_client(user).get("/api/presence/online/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert "users" not in response.json()


def test_online_list_needs_authentication(db: None) -> None:
    assert api_client().get("/api/presence/online/").status_code == 401


async def test_same_user_in_two_tabs_is_one_viewer(
    student: User, student2: User, course: Course, open_socket: Any
) -> None:
    first, second = await open_socket(student), await open_socket(student)
    assert (await first.command("course.join", {"course_id": course.pk}))["data"] == {
        "course_id": course.pk,
        "viewers": 1,
    }
    assert (await second.command("course.join", {"course_id": course.pk}))["data"]["viewers"] == 1
    other = await open_socket(student2)
    assert (await other.command("course.join", {"course_id": course.pk}))["data"]["viewers"] == 2

    status, body = await get_json(student, f"/api/courses/{course.pk}/")
    assert status == 200 and body["viewer_count"] == 2
    status, body = await get_json(student, "/api/courses/")
    assert [(c["id"], c["viewer_count"]) for c in body] == [(course.pk, 2)]

    # The first tab's joins were announced (1, then 2: student2 joined after the lock
    # expired or at the trailing edge); the last value is 2 and it is never 3.
    seen = [e["data"]["viewers"] for e in await events_of(first, "course.viewers", quiet=1.5)]
    assert seen and seen[-1] == 2 and max(seen) == 2

    assert (await second.command("course.leave", {"course_id": course.pk}))["type"] == "ack"
    assert await events_of(first, "course.viewers", quiet=1.5) == []  # still 2 users
    assert (await other.command("course.leave", {"course_id": course.pk}))["type"] == "ack"
    seen = [e["data"] for e in await events_of(first, "course.viewers", quiet=1.5)]
    assert seen == [{"course_id": course.pk, "viewers": 1}]
    status, body = await get_json(student, f"/api/courses/{course.pk}/")
    assert body["viewer_count"] == 1


async def test_burst_of_100_joins_sends_few_viewer_events_and_the_last_is_right(
    student: User, course: Course, settings: Any
) -> None:
    viewers = await database_sync_to_async(
        lambda: list(
            User.objects.bulk_create(
                [User(username=f"burst{i}", role=Role.STUDENT) for i in range(100)]
            )
        )
    )()
    observer = await connect(student)
    assert (await observer.command("course.join", {"course_id": course.pk}))["type"] == "ack"
    sockets = await asyncio.gather(*(connect(user) for user in viewers))
    started = time.monotonic()
    acks = await asyncio.gather(
        *(s.command("course.join", {"course_id": course.pk}) for s in sockets)
    )
    assert all(a["type"] == "ack" for a in acks)
    seen = await events_of(observer, "course.viewers", quiet=2.5)
    elapsed = time.monotonic() - started - 2.5
    counts = [e["data"]["viewers"] for e in seen]
    # At most one per interval (1 s) while the burst lasts, plus a leading and a trailing one.
    assert 1 <= len(counts) <= elapsed / settings.PRESENCE_VIEWERS_INTERVAL_S + 3, counts
    assert counts[-1] == 101
    assert counts == sorted(counts)
    assert (await get_json(student, f"/api/courses/{course.pk}/"))[1]["viewer_count"] == 101

    # Heartbeats write but never broadcast.
    assert await services.heartbeat() == 101
    assert await events_of(observer, "course.viewers", quiet=1.2) == []
    for socket in [observer, *sockets]:
        await socket.close()


async def test_expired_socket_is_swept_with_offline_and_count_events(
    student: User, student2: User, admin_user: User, course: Course
) -> None:
    admin = await connect(admin_user)
    watcher = await connect(student2)
    await watcher.command("course.join", {"course_id": course.pk})
    ghost = await connect(student)
    assert (await ghost.command("course.join", {"course_id": course.pk}))["data"]["viewers"] == 2
    await events_of(admin, "presence.changed")
    await events_of(watcher, "course.viewers", quiet=1.2)

    # As if the ghost's server process had died a TTL ago: it is no longer in any
    # process's registry, and its entries' deadlines have passed.
    state = services.process_presence()
    [channel] = [name for name, s in state.sockets.items() if s.user_id == student.pk]
    del state.sockets[channel]
    past = time.time() - 1
    client = async_store().client
    await client.zadd(key("conns"), {f"{student.pk}|{channel}": past})
    await client.zadd(key("u", student.pk), {channel: past})
    await client.zadd(key("c", course.pk), {f"{student.pk}|{channel}": past})
    await services.heartbeat()  # the live sockets beat; the ghost is not brought back

    # Past the deadline the API stops showing the ghost even before any sweep.
    assert student.pk not in online_ids((await get_json(admin_user, "/api/presence/online/"))[1])
    assert (await get_json(student2, f"/api/courses/{course.pk}/"))[1]["viewer_count"] == 1
    assert await events_of(admin, "presence.changed", quiet=0.2) == []  # not yet swept

    await sync_to_async(sweep_presence_task)()  # what Celery beat runs
    changed = await events_of(admin, "presence.changed")
    assert [
        (e["data"]["user_id"], e["data"]["is_online"], e["data"]["reason"]) for e in changed
    ] == [(student.pk, False, "expired")]
    counts = [e["data"] for e in await events_of(watcher, "course.viewers", quiet=1.2)]
    assert counts == [{"course_id": course.pk, "viewers": 1}]

    # A second sweep, and the ghost's late close, find nothing more to announce.
    await sync_to_async(sweep_presence_task)()
    await ghost.close()
    assert await events_of(admin, "presence.changed", quiet=0.3) == []
    assert await events_of(watcher, "course.viewers", quiet=1.2) == []
    for socket in (admin, watcher):
        await socket.close()


# --- lesson watching ----------------------------------------------------------------


@pytest.fixture
def lesson(course: Course) -> Lesson:
    return course.lessons.get(position=1)


@pytest.fixture
def buyer(student: User, course: Course) -> User:
    Purchase.objects.create(user=student, course=course)
    return student


async def test_buyer_reports_watching_and_instructor_sees_where(
    buyer: User,
    instructor: User,
    admin_user: User,
    course: Course,
    lesson: Lesson,
    open_socket: Any,
) -> None:
    ws = await open_socket(buyer)
    data = {"lesson_id": lesson.pk, "position": 42.5, "playing": True}
    assert (await ws.command("lesson.watch", data))["data"] == {"lesson_id": lesson.pk}
    for viewer in (instructor, admin_user):
        status, body = await get_json(viewer, f"/api/courses/{course.pk}/watching/")
        assert status == 200
        assert body["course_id"] == course.pk
        [row] = body["watchers"]
        assert {k: row[k] for k in ("user_id", "lesson_id", "position", "playing", "stale")} == {
            "user_id": buyer.pk,
            "lesson_id": lesson.pk,
            "position": 42.5,
            "playing": True,
            "stale": False,
        }
        assert row["lesson_title"] == "Lesson 1" and row["age_s"] < 5
    # A later report replaces the earlier one: one row per user.
    await ws.command("lesson.watch", {"lesson_id": lesson.pk, "position": 50, "playing": False})
    body = (await get_json(instructor, f"/api/courses/{course.pk}/watching/"))[1]
    assert [(w["position"], w["playing"]) for w in body["watchers"]] == [(50.0, False)]


async def test_watcher_disappears_after_reports_stop(
    buyer: User, instructor: User, course: Course, lesson: Lesson, open_socket: Any, settings: Any
) -> None:
    settings.PRESENCE_WATCH_STALE_S = 0.3
    settings.PRESENCE_WATCH_TTL_S = 0.8
    ws = await open_socket(buyer)
    await ws.command("lesson.watch", {"lesson_id": lesson.pk, "position": 1, "playing": True})
    await asyncio.sleep(0.4)
    [row] = (await get_json(instructor, f"/api/courses/{course.pk}/watching/"))[1]["watchers"]
    assert row["stale"] is True and row["age_s"] >= 0.3
    await asyncio.sleep(0.5)
    assert (await get_json(instructor, f"/api/courses/{course.pk}/watching/"))[1]["watchers"] == []


async def test_closing_the_socket_removes_its_watch_report(
    buyer: User, instructor: User, course: Course, lesson: Lesson
) -> None:
    ws = await connect(buyer)
    await ws.command("lesson.watch", {"lesson_id": lesson.pk, "position": 3, "playing": True})
    await ws.close()
    assert (await get_json(instructor, f"/api/courses/{course.pk}/watching/"))[1]["watchers"] == []


async def test_student_who_did_not_buy_cannot_report_watching(
    student: User, instructor: User, course: Course, lesson: Lesson, open_socket: Any
) -> None:
    ws = await open_socket(student)
    reply = await ws.command(
        "lesson.watch", {"lesson_id": lesson.pk, "position": 0, "playing": True}
    )
    assert reply["type"] == "error" and reply["code"] == "purchase_required"
    assert (await get_json(instructor, f"/api/courses/{course.pk}/watching/"))[1]["watchers"] == []


async def test_lesson_of_unpublished_or_absent_course_is_not_found(
    buyer: User, course: Course, lesson: Lesson, open_socket: Any
) -> None:
    await Course.objects.filter(pk=course.pk).aupdate(is_published=False)
    ws = await open_socket(buyer)
    for lesson_id in (lesson.pk, 987654):
        data = {"lesson_id": lesson_id, "position": 0, "playing": True}
        reply = await ws.command("lesson.watch", data)
        assert (reply["type"], reply["code"]) == ("error", "not_found")


async def test_instructor_may_preview_own_lessons(
    instructor: User, course: Course, lesson: Lesson, open_socket: Any
) -> None:
    ws = await open_socket(instructor)
    reply = await ws.command(
        "lesson.watch", {"lesson_id": lesson.pk, "position": 0, "playing": False}
    )
    assert reply["type"] == "ack"


@pytest.mark.parametrize(
    "data",
    [
        {"lesson_id": "1", "position": 0, "playing": True},
        {"lesson_id": 1, "position": -1, "playing": True},
        {"lesson_id": 1, "position": 0, "playing": "yes"},
        {"lesson_id": 1, "position": 10**9, "playing": True},
    ],
)
async def test_bad_watch_reports_get_invalid(
    buyer: User, lesson: Lesson, open_socket: Any, data: dict[str, Any]
) -> None:
    ws = await open_socket(buyer)
    reply = await ws.command("lesson.watch", data)
    assert (reply["type"], reply["code"]) == ("error", "invalid")


async def test_watching_is_refused_to_students_and_other_instructors(
    buyer: User, course: Course, lesson: Lesson, open_socket: Any
) -> None:
    other = await database_sync_to_async(make_user)("other-teacher", Role.INSTRUCTOR)
    ws = await open_socket(buyer)
    await ws.command("lesson.watch", {"lesson_id": lesson.pk, "position": 1, "playing": True})
    for user in (buyer, other):
        status, body = await get_json(user, f"/api/courses/{course.pk}/watching/")
        assert (status, body["code"]) == (403, "permission_denied")
        assert "watchers" not in body
    # A student still sees the count.
    status, body = await get_json(buyer, f"/api/courses/{course.pk}/")
    assert status == 200 and body["viewer_count"] == 0


async def test_watching_of_invisible_course_is_not_found(outsider: User, course: Course) -> None:
    await Course.objects.filter(pk=course.pk).aupdate(is_published=False)
    for course_id in (course.pk, 987654):
        status, body = await get_json(outsider, f"/api/courses/{course_id}/watching/")
        assert (status, body["code"]) == (404, "not_found")


def test_event_payloads_survive_the_production_encoder() -> None:
    import json

    assert json.loads(encode_data(course_viewers(3, 7))) == {"course_id": 3, "viewers": 7}
    payload = presence_changed(5, is_online=False, last_seen=0.0, reason="expired")
    assert json.loads(encode_data(payload)) == {
        "user_id": 5,
        "is_online": False,
        "last_seen": "1970-01-01T00:00:00Z",
        "reason": "expired",
    }


class _DeadConsumer:
    """Stands in for a consumer whose application crashed before its disconnect hook."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.channel_name = f"specific.dead!{user.pk}"
        self.state: dict[str, Any] = {}


async def test_socket_whose_consumer_died_without_disconnect_is_forgotten_at_next_beat(
    student: User, admin_user: User
) -> None:
    import gc

    admin = await connect(admin_user)
    await events_of(admin, "presence.changed")
    dead = _DeadConsumer(student)
    await services.start_socket(dead)  # type: ignore[arg-type]
    assert [d["data"]["is_online"] for d in await events_of(admin, "presence.changed")] == [True]
    del dead
    gc.collect()
    assert await services.heartbeat() == 1  # only the admin's socket is refreshed
    changed = [e["data"] for e in await events_of(admin, "presence.changed")]
    assert [(d["user_id"], d["is_online"]) for d in changed] == [(student.pk, False)]
    assert student.pk not in online_ids((await get_json(admin_user, "/api/presence/online/"))[1])
    await admin.close()

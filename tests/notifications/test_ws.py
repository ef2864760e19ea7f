"""Notifications and course pages through the full ASGI stack and the real Redis layer."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from courses.models import Course, Purchase
from notifications import services
from notifications.models import Notification
from tests.conftest import api_client

pytestmark = pytest.mark.django_db(transaction=True)


# Other apps' ephemeral events (presence, viewer counts) also reach these sockets; the
# assertions here are about notification and course-page events only.
UNRELATED = frozenset({"presence.changed", "course.viewers"})


async def next_event(tab, timeout: float = 5) -> dict:
    while True:
        event = await tab.next_event(timeout)
        if event["type"] not in UNRELATED:
            return event


async def nothing_more(tab, timeout: float = 0.3) -> bool:
    while tab.backlog:
        if tab.backlog.pop(0)["type"] not in UNRELATED:
            return False
    # receive_nothing, not a receive with a timeout: a timeout cancels the application.
    while not await tab.communicator.receive_nothing(timeout=timeout):
        if (await tab.receive())["type"] not in UNRELATED:
            return False
    return True


@sync_to_async
def post(user, path: str, data: dict | None = None):
    return api_client(user).post(path, data or {}, format="json")


@database_sync_to_async
def make_note(user, key: str) -> Notification:
    return services.create_notifications(
        [services.NotificationSpec(recipient_id=user.pk, kind="announcement", title=key)],
        dedupe_key=key,
    )[0]


@database_sync_to_async
def db_unread(user) -> int:
    return Notification.objects.filter(recipient=user, is_read=False).count()


async def test_purchase_arrives_live_in_every_tab_of_instructor_and_admin(
    open_socket, student, instructor, admin_user, course
):
    tab1 = await open_socket(instructor)
    tab2 = await open_socket(instructor)
    admin_tab = await open_socket(admin_user)
    buyer_tab = await open_socket(student)

    response = await post(student, f"/api/courses/{course.pk}/purchase/")
    assert response.status_code == 201

    for tab in (tab1, tab2):
        created = await next_event(tab)
        assert created["type"] == "notification.created"
        assert created["seq"] == 1
        assert created["data"]["unread_count"] == 1
        assert created["data"]["notification"]["kind"] == "course_sold"
        sound = await next_event(tab)
        assert sound["type"] == "sound.play"
        assert "seq" not in sound
        assert await nothing_more(tab)
    created = await next_event(admin_tab)
    assert (created["type"], created["data"]["notification"]["kind"]) == (
        "notification.created",
        "course_purchased",
    )
    purchased = await next_event(admin_tab)
    assert (purchased["type"], purchased["seq"]) == ("course.purchased", 2)
    assert purchased["data"]["user_id"] == student.pk
    assert await nothing_more(admin_tab)
    assert await nothing_more(buyer_tab)

    # Buying again: nothing anywhere, the badge stays at one.
    assert (await post(student, f"/api/courses/{course.pk}/purchase/")).status_code == 200
    assert await nothing_more(tab1)
    assert await nothing_more(admin_tab)
    assert await db_unread(instructor) == 1


async def test_read_over_websocket_syncs_every_tab(open_socket, student):
    first = await make_note(student, "a")
    await make_note(student, "b")
    tab1 = await open_socket(student)
    tab2 = await open_socket(student)

    ack = await tab1.command("notification.read", {"id": first.pk})
    assert ack["type"] == "ack"
    assert ack["data"] == {"id": first.pk, "unread_count": 1}
    for tab in (tab1, tab2):
        event = await next_event(tab)
        assert event["type"] == "notification.read"
        assert event["data"] == {
            "ids": [first.pk],
            "all": False,
            "through_id": None,
            "unread_count": 1,
        }

    ack = await tab2.command("notification.read_all")
    assert ack["data"] == {"unread_count": 0}
    for tab in (tab1, tab2):
        event = await next_event(tab)
        assert (event["type"], event["data"]["all"], event["data"]["unread_count"]) == (
            "notification.read",
            True,
            0,
        )
        assert await nothing_more(tab)
    assert await db_unread(student) == 0


async def test_read_over_rest_syncs_open_tabs(open_socket, student):
    first = await make_note(student, "a")
    tab = await open_socket(student)
    assert (await post(student, f"/api/notifications/{first.pk}/read/")).json() == {
        "unread_count": 0
    }
    event = await next_event(tab)
    assert (event["type"], event["data"]["unread_count"]) == ("notification.read", 0)


async def test_reading_a_foreign_or_bad_notification_is_an_error_reply(
    open_socket, student, student2
):
    theirs = await make_note(student2, "a")
    tab = await open_socket(student)
    refused = await tab.command("notification.read", {"id": theirs.pk})
    assert (refused["type"], refused["code"]) == ("error", "not_found")
    bad = await tab.command("notification.read", {"id": "1"})
    assert (bad["type"], bad["code"]) == ("error", "invalid")
    # The socket is still usable.
    assert (await tab.command("notification.read_all"))["type"] == "ack"
    assert await db_unread(student2) == 1


async def test_missed_notifications_are_replayed_on_resume(open_socket, student):
    tab = await open_socket(student)
    await make_note(student, "a")
    first = await next_event(tab)
    await tab.close()
    await make_note(student, "b")
    await make_note(student, "c")

    again = await open_socket(student)
    ack = await again.command("resume", {"since_seq": first["seq"]})
    assert ack["data"] == {"replayed": 2}
    replayed = [again.backlog.pop(0) for _ in range(2)]
    assert [(e["seq"], e["data"]["unread_count"]) for e in replayed] == [(2, 2), (3, 3)]


# --- course pages ------------------------------------------------------------------


async def test_course_page_sees_new_comments_and_reviews_until_leave(
    open_socket, student, outsider, instructor, course
):
    await Purchase.objects.acreate(user=student, course=course)
    viewer = await open_socket(outsider)
    joined = await viewer.command("course.join", {"course_id": course.pk})
    assert (joined["type"], joined["data"]["course_id"]) == ("ack", course.pk)

    posted = await post(student, f"/api/courses/{course.pk}/comments/", {"body": "<b>hi</b>"})
    assert posted.status_code == 201
    event = await next_event(viewer)
    assert event["type"] == "course.comment.created"
    assert "seq" not in event
    assert event["data"]["comment"]["body"] == "<b>hi</b>"
    assert event["data"]["comment"]["id"] == posted.json()["id"]

    await post(student, f"/api/courses/{course.pk}/reviews/", {"rating": 4, "body": "ok"})
    event = await next_event(viewer)
    assert event["type"] == "course.review.created"
    assert (event["data"]["rating_average"], event["data"]["rating_count"]) == (4.0, 1)
    assert event["data"]["review"]["rating"] == 4
    assert await nothing_more(viewer)

    left = await viewer.command("course.leave", {"course_id": course.pk})
    assert left["type"] == "ack"
    await post(student, f"/api/courses/{course.pk}/reviews/", {"rating": 2})
    await post(student, f"/api/courses/{course.pk}/comments/", {"body": "again"})
    assert await nothing_more(viewer, timeout=0.5)


async def test_course_join_refuses_unknown_and_draft_courses(
    open_socket, outsider, instructor, course
):
    viewer = await open_socket(outsider)
    unknown = await viewer.command("course.join", {"course_id": 999_999})
    assert (unknown["type"], unknown["code"]) == ("error", "not_found")
    draft = await Course.objects.acreate(title="Draft", slug="draft", instructor=instructor)
    hidden = await viewer.command("course.join", {"course_id": draft.pk})
    assert (hidden["type"], hidden["code"]) == ("error", "not_found")
    owner = await open_socket(instructor)
    assert (await owner.command("course.join", {"course_id": draft.pk}))["type"] == "ack"

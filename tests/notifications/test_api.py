"""Notifications over REST: paging, counts, reading, announcing; refusals."""

from __future__ import annotations

import pytest

from notifications import services
from notifications.models import Announcement, Notification
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def make_notes(user, n: int) -> list[Notification]:
    return [
        services.create_notifications(
            [services.NotificationSpec(recipient_id=user.pk, kind="announcement", title=f"n{i}")],
            dedupe_key=f"k{i}",
        )[0]
        for i in range(n)
    ]


def test_list_is_cursor_paged_newest_first_and_only_mine(student, student2):
    notes = make_notes(student, 5)
    make_notes(student2, 2)
    client = api_client(student)
    page = client.get("/api/notifications/?page_size=2").json()
    assert [n["id"] for n in page["results"]] == [notes[4].pk, notes[3].pk]
    assert page["previous"] is None
    ids = [n["id"] for n in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        ids += [n["id"] for n in page["results"]]
    assert ids == [n.pk for n in reversed(notes)]


def test_unread_filter_count_and_reading(student, student2):
    notes = make_notes(student, 3)
    client = api_client(student)
    assert client.post(f"/api/notifications/{notes[0].pk}/read/").json() == {"unread_count": 2}
    unread = client.get("/api/notifications/?unread=true").json()["results"]
    assert [n["id"] for n in unread] == [notes[2].pk, notes[1].pk]
    assert len(client.get("/api/notifications/").json()["results"]) == 3
    assert client.get("/api/notifications/unread-count/").json() == {"unread_count": 2}
    assert client.post("/api/notifications/read-all/").json() == {"unread_count": 0}
    assert client.get("/api/notifications/unread-count/").json() == {"unread_count": 0}


def test_reading_someone_elses_notification_is_not_found(student, student2):
    [theirs] = make_notes(student2, 1)
    response = api_client(student).post(f"/api/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.is_read is False


def test_anonymous_is_refused(student):
    assert api_client().get("/api/notifications/").status_code == 401
    assert api_client().get("/api/notifications/unread-count/").status_code == 401


def test_announce_is_admin_only(student, instructor):
    for user in (student, instructor):
        response = api_client(user).post(
            "/api/notifications/announce/", {"title": "x"}, format="json"
        )
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert not Announcement.objects.exists()


def test_announce_accepts_and_validates(admin_user, django_capture_on_commit_callbacks):
    client = api_client(admin_user)
    bad = client.post(
        "/api/notifications/announce/", {"title": "x", "audience": "robots"}, format="json"
    )
    assert bad.status_code == 400
    with django_capture_on_commit_callbacks() as callbacks:
        ok = client.post(
            "/api/notifications/announce/",
            {"title": "Maintenance", "body": "tonight", "audience": "student"},
            format="json",
        )
    assert ok.status_code == 202
    assert ok.json()["audience"] == "student"
    assert len(callbacks) == 1  # the fan-out task, queued on commit
    assert Announcement.objects.get().title == "Maintenance"

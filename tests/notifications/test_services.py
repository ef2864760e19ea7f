"""Notification services against the database: rows, counts and the exact events."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404

from accounts.models import Role
from notifications import services
from notifications.models import Announcement, Notification, NotificationKind
from notifications.tasks import deliver_announcement_task
from realtime.groups import user_group
from tests.conftest import make_user
from tests.notifications.published import published, routes

pytestmark = pytest.mark.django_db


def note(user, key: str = "k") -> Notification:
    return services.create_notifications(
        [services.NotificationSpec(recipient_id=user.pk, kind="announcement", title=key)],
        dedupe_key=key,
    )[0]


def test_database_refuses_a_second_notification_for_one_event(student):
    note(student, "purchase:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            recipient=student, kind="announcement", title="dup", dedupe_key="purchase:1"
        )


def test_create_skips_recipient_already_notified_and_inactive_users(
    student, student2, django_capture_on_commit_callbacks
):
    note(student, "e1")
    inactive = make_user("inactive", is_active=False)
    specs = [
        services.NotificationSpec(recipient_id=uid, kind="announcement", title="t")
        for uid in (student.pk, student2.pk, inactive.pk, 999_999)
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        rows = services.create_notifications(specs, dedupe_key="e1")

    assert [r.recipient_id for r in rows] == [student2.pk]
    assert routes(published(callbacks)) == [(user_group(student2.pk), "notification.created")]
    assert Notification.objects.filter(dedupe_key="e1").count() == 2


def test_created_event_carries_the_count_of_unread_rows(student):
    note(student, "a")
    read = note(student, "b")
    services.mark_read(actor=student, notification_id=read.pk)
    note(student, "c")
    import json

    from realtime.models import KeptEvent

    last = json.loads(KeptEvent.objects.filter(user=student).order_by("-seq")[0].text)
    assert last["type"] == "notification.created"
    assert last["data"]["unread_count"] == 2


def test_mark_read_publishes_count_to_reader_only(
    student, student2, django_capture_on_commit_callbacks
):
    first = note(student, "a")
    note(student, "b")
    note(student2, "c")

    with django_capture_on_commit_callbacks() as callbacks:
        count = services.mark_read(actor=student, notification_id=first.pk)

    assert count == 1
    assert [(g, k, d) for g, k, _, d in published(callbacks)] == [
        (
            user_group(student.pk),
            "notification.read",
            {"ids": [first.pk], "all": False, "through_id": None, "unread_count": 1},
        )
    ]
    first.refresh_from_db()
    assert first.is_read is True
    assert first.read_at is not None


def test_mark_read_twice_publishes_once(student, django_capture_on_commit_callbacks):
    first = note(student, "a")
    services.mark_read(actor=student, notification_id=first.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.mark_read(actor=student, notification_id=first.pk) == 0
    assert callbacks == []


def test_mark_read_of_someone_elses_notification_is_not_found(
    student, student2, django_capture_on_commit_callbacks
):
    theirs = note(student2, "a")
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Http404):
        services.mark_read(actor=student, notification_id=theirs.pk)
    assert callbacks == []
    theirs.refresh_from_db()
    assert theirs.is_read is False


def test_mark_all_read_publishes_one_event_with_zero(
    student, student2, django_capture_on_commit_callbacks
):
    note(student, "a")
    last = note(student, "b")
    note(student2, "c")
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.mark_all_read(actor=student) == 0

    assert [(g, k, d) for g, k, _, d in published(callbacks)] == [
        (
            user_group(student.pk),
            "notification.read",
            {"ids": None, "all": True, "through_id": last.pk, "unread_count": 0},
        )
    ]
    assert Notification.objects.filter(recipient=student2, is_read=False).count() == 1


def test_mark_all_read_with_nothing_unread_publishes_nothing(
    student, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.mark_all_read(actor=student) == 0
    assert callbacks == []


def test_admin_marks_read_for_each_recipient_with_their_count(
    student, student2, admin_user, django_capture_on_commit_callbacks
):
    a = note(student, "a")
    note(student, "b")
    c = note(student2, "c")
    with django_capture_on_commit_callbacks() as callbacks:
        changed = services.mark_notifications_read_for_recipients(
            actor=admin_user, notification_ids=[a.pk, c.pk]
        )
    assert changed == 2
    assert sorted(
        (g, d["ids"], d["unread_count"]) for g, _, _, d in published(callbacks)
    ) == sorted([(user_group(student.pk), [a.pk], 1), (user_group(student2.pk), [c.pk], 0)])


def test_only_admins_mark_other_peoples_notifications(student, student2):
    theirs = note(student2, "a")
    with pytest.raises(PermissionDenied):
        services.mark_notifications_read_for_recipients(actor=student, notification_ids=[theirs.pk])
    with pytest.raises(PermissionDenied):
        services.push_again(actor=student, notification_id=theirs.pk)


def test_push_again_sends_a_fresh_kept_event_with_current_count(
    student, admin_user, django_capture_on_commit_callbacks
):
    first = note(student, "a")
    note(student, "b")
    with django_capture_on_commit_callbacks() as callbacks:
        services.push_again(actor=admin_user, notification_id=first.pk)
    [(group, kind, seq, data)] = published(callbacks)
    assert (group, kind, seq) == (user_group(student.pk), "notification.created", 3)
    assert data["notification"]["id"] == first.pk
    assert (data["unread_count"], data["resent"]) == (2, True)
    assert Notification.objects.count() == 2


def test_video_finished_notifies_owner_once_per_run(student, django_capture_on_commit_callbacks):
    job_id = uuid.uuid4()
    with django_capture_on_commit_callbacks() as callbacks:
        first = services.notify_video_finished(
            job_id=job_id, owner_id=student.pk, file_name="a<b>.mp4", succeeded=True
        )
        retried = services.notify_video_finished(
            job_id=job_id, owner_id=student.pk, file_name="a<b>.mp4", succeeded=True
        )
    assert first is not None
    assert retried is None
    assert first.kind == NotificationKind.VIDEO_FINISHED
    assert first.title == "Your video a<b>.mp4 is ready"
    assert first.payload == {"job_id": str(job_id), "status": "success"}
    assert routes(published(callbacks)) == [(user_group(student.pk), "notification.created")]
    again = services.notify_video_finished(
        job_id=job_id, owner_id=student.pk, file_name="a.mp4", succeeded=False, run=2
    )
    assert again is not None
    assert again.payload["status"] == "error"


# --- announcements -------------------------------------------------------------------


def test_only_admins_announce(student, instructor, django_capture_on_commit_callbacks):
    for actor in (student, instructor):
        with django_capture_on_commit_callbacks() as callbacks, pytest.raises(PermissionDenied):
            services.create_announcement(actor=actor, audience="everyone", title="t", body="")
        assert callbacks == []
    assert not Announcement.objects.exists()


def test_announcement_queues_its_task_on_commit_only(
    admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        announcement = services.create_announcement(
            actor=admin_user, audience="everyone", title="Hi", body="all"
        )
    assert len(callbacks) == 1
    assert announcement.delivered_count == 0
    assert not Notification.objects.exists()


def test_announcement_to_a_role_skips_others_inactive_and_the_sender(
    student, student2, instructor, admin_user, django_capture_on_commit_callbacks
):
    make_user("gone", is_active=False)
    announcement = Announcement.objects.create(
        created_by=admin_user, audience=Role.STUDENT, title="Exams", body="<i>soon</i>"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        written = deliver_announcement_task(announcement.pk)

    assert written == 2
    assert routes(published(callbacks)) == sorted(
        [
            (user_group(student.pk), "notification.created"),
            (user_group(student2.pk), "notification.created"),
        ]
    )
    assert set(Notification.objects.values_list("recipient_id", "kind", "body")) == {
        (student.pk, "announcement", "<i>soon</i>"),
        (student2.pk, "announcement", "<i>soon</i>"),
    }
    announcement.refresh_from_db()
    assert announcement.delivered_count == 2
    assert announcement.finished_at is not None


def test_announcement_to_everyone_in_batches_survives_a_retry(
    student, student2, instructor, admin_user, django_capture_on_commit_callbacks
):
    announcement = Announcement.objects.create(
        created_by=admin_user, audience="everyone", title="Hi", body=""
    )
    assert services.deliver_announcement(announcement_id=announcement.pk, batch_size=2) == 3
    # A redelivered task (acks_late) writes nothing twice and publishes nothing.
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.deliver_announcement(announcement_id=announcement.pk, batch_size=2) == 0
    assert callbacks == []
    assert Notification.objects.count() == 3
    announcement.refresh_from_db()
    assert announcement.delivered_count == 3


def test_announcement_that_was_deleted_delivers_nothing(student):
    assert services.deliver_announcement(announcement_id=424242) == 0
    assert not Notification.objects.exists()

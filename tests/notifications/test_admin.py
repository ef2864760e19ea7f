"""Django admin for notifications: filters, search, escaped payload, actions."""

from __future__ import annotations

import pytest
from django.test import Client

from courses.models import Comment, Purchase
from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def make_note(user, key="k", payload=None) -> Notification:
    return services.create_notifications(
        [
            services.NotificationSpec(
                recipient_id=user.pk,
                kind="announcement",
                title="<b>Hello</b>",
                payload=payload or {},
            )
        ],
        dedupe_key=key,
    )[0]


def test_changelist_filters_and_search(admin_client, student, student2):
    make_note(student, "a")
    make_note(student2, "b")
    page = admin_client.get(
        "/admin/notifications/notification/?kind__exact=announcement&is_read__exact=0&q=student2"
    )
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert "&lt;b&gt;Hello&lt;/b&gt;" in page.content.decode()


def test_payload_is_shown_read_only_and_escaped(admin_client, student):
    row = make_note(student, payload={"x": "<script>alert(1)</script>"})
    page = admin_client.get(f"/admin/notifications/notification/{row.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'name="title"' not in html  # nothing editable


def test_mark_read_action_uses_the_service(
    admin_client, student, django_capture_on_commit_callbacks
):
    row = make_note(student)
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            "/admin/notifications/notification/",
            {"action": "mark_read", "_selected_action": [row.pk]},
        )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.is_read is True
    assert len(callbacks) == 1


def test_push_again_action_publishes_a_fresh_event(
    admin_client, student, django_capture_on_commit_callbacks
):
    row = make_note(student)
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            "/admin/notifications/notification/",
            {"action": "push_again", "_selected_action": [row.pk]},
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert Notification.objects.count() == 1


def test_purchases_comments_reviews_are_in_admin(admin_client, student, course):
    Purchase.objects.create(user=student, course=course)
    Comment.objects.create(course=course, author=student, body="<i>hi</i>")
    for model in ("purchase", "comment", "review"):
        assert admin_client.get(f"/admin/courses/{model}/").status_code == 200
    assert admin_client.get("/admin/notifications/announcement/").status_code == 200

"""Purchases, comments and reviews against the database: exact recipients and events."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.http import Http404

from accounts.models import Role, User
from courses import services
from courses.models import Comment, Course, Purchase, Review
from notifications.models import Notification, NotificationKind
from realtime.groups import course_group, user_group
from realtime.models import KeptEvent
from tests.conftest import make_user
from tests.notifications.published import published, routes

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def kinds_by_recipient() -> dict[int, list[str]]:
    rows: dict[int, list[str]] = {}
    for recipient_id, kind in Notification.objects.order_by("id").values_list(
        "recipient_id", "kind"
    ):
        rows.setdefault(recipient_id, []).append(kind)
    return rows


# --- purchase ----------------------------------------------------------------------


def test_purchase_notifies_instructor_with_sound_and_every_admin_once(
    student, instructor, admin_user, course, django_capture_on_commit_callbacks
):
    second_admin = make_user("admin2", Role.ADMIN)
    make_user("gone_admin", Role.ADMIN, is_active=False)

    with django_capture_on_commit_callbacks() as callbacks:
        result = services.purchase_course(actor=student, course_id=course.pk)

    assert result.created is True
    events = published(callbacks)
    assert routes(events) == sorted(
        [
            (user_group(instructor.pk), "notification.created"),
            (user_group(instructor.pk), "sound.play"),
            (user_group(admin_user.pk), "notification.created"),
            (user_group(admin_user.pk), "course.purchased"),
            (user_group(second_admin.pk), "notification.created"),
            (user_group(second_admin.pk), "course.purchased"),
        ]
    )
    assert kinds_by_recipient() == {
        instructor.pk: [NotificationKind.COURSE_SOLD],
        admin_user.pk: [NotificationKind.COURSE_PURCHASED],
        second_admin.pk: [NotificationKind.COURSE_PURCHASED],
    }
    by_route = {(g, k): (seq, data) for g, k, seq, data in events}
    seq, data = by_route[(user_group(instructor.pk), "notification.created")]
    note = Notification.objects.get(recipient=instructor)
    assert seq == 1
    assert data["unread_count"] == 1
    assert data["resent"] is False
    assert data["notification"]["id"] == note.pk
    assert data["notification"]["title"] == "Your course was purchased"
    assert data["notification"]["payload"] == {
        "purchase_id": result.purchase.pk,
        "course_id": course.pk,
        "buyer_id": student.pk,
    }
    assert by_route[(user_group(instructor.pk), "sound.play")] == (
        None,
        {"sound": "purchase", "notification_id": note.pk},
    )
    seq, data = by_route[(user_group(admin_user.pk), "course.purchased")]
    assert seq == 2
    assert data["id"] == result.purchase.pk
    assert data["course_id"] == course.pk
    assert data["user_id"] == student.pk
    assert data["username"] == "student"
    assert data["course_title"] == "Signals 101"


def test_purchase_again_is_idempotent_and_notifies_no_one(
    student, instructor, admin_user, course, django_capture_on_commit_callbacks
):
    first = services.purchase_course(actor=student, course_id=course.pk)

    with django_capture_on_commit_callbacks() as callbacks:
        again = services.purchase_course(actor=student, course_id=course.pk)

    assert again.created is False
    assert again.purchase.pk == first.purchase.pk
    assert callbacks == []
    assert Purchase.objects.count() == 1
    assert Notification.objects.filter(recipient=instructor).count() == 1


def test_admin_who_teaches_the_course_gets_one_notification_for_a_purchase(
    student, course, django_capture_on_commit_callbacks
):
    teaching_admin = make_user("teaching_admin", Role.ADMIN)
    Course.objects.filter(pk=course.pk).update(instructor=teaching_admin)

    with django_capture_on_commit_callbacks() as callbacks:
        services.purchase_course(actor=student, course_id=course.pk)

    assert kinds_by_recipient() == {teaching_admin.pk: [NotificationKind.COURSE_SOLD]}
    assert routes(published(callbacks)) == sorted(
        [
            (user_group(teaching_admin.pk), "notification.created"),
            (user_group(teaching_admin.pk), "sound.play"),
            (user_group(teaching_admin.pk), "course.purchased"),
        ]
    )


def test_admin_buyer_is_not_notified_of_their_own_purchase(
    instructor, admin_user, course, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.purchase_course(actor=admin_user, course_id=course.pk)

    assert kinds_by_recipient() == {instructor.pk: [NotificationKind.COURSE_SOLD]}
    assert routes(published(callbacks)) == sorted(
        [
            (user_group(instructor.pk), "notification.created"),
            (user_group(instructor.pk), "sound.play"),
        ]
    )


def test_rolled_back_purchase_notifies_no_one(
    student, instructor, admin_user, course, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        services.purchase_course(actor=student, course_id=course.pk)
        raise Boom

    assert callbacks == []
    assert not Purchase.objects.exists()
    assert not Notification.objects.exists()
    assert not KeptEvent.objects.exists()


def test_failure_inside_purchase_rolls_back_purchase_and_notifications(
    student, instructor, admin_user, course, django_capture_on_commit_callbacks, monkeypatch
):
    def fail() -> list[int]:
        raise Boom

    # The admin list is read after the instructor's notification is written.
    monkeypatch.setattr(services, "admin_ids", fail)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Boom):
        services.purchase_course(actor=student, course_id=course.pk)

    assert callbacks == []
    assert not Purchase.objects.exists()
    assert not Notification.objects.exists()
    assert not KeptEvent.objects.exists()


def test_instructor_cannot_buy_own_course(instructor, course):
    with pytest.raises(services.CourseActionError) as refused:
        services.purchase_course(actor=instructor, course_id=course.pk)
    assert (refused.value.code, refused.value.status) == ("own_course", 403)
    assert not Purchase.objects.exists()


def test_draft_course_cannot_be_bought(student, admin_user, course):
    Course.objects.filter(pk=course.pk).update(is_published=False)
    with pytest.raises(Http404):
        services.purchase_course(actor=student, course_id=course.pk)
    with pytest.raises(services.CourseActionError) as refused:
        services.purchase_course(actor=admin_user, course_id=course.pk)
    assert refused.value.code == "not_published"
    assert not Purchase.objects.exists()
    assert not Notification.objects.exists()


def test_unknown_course_cannot_be_bought(student):
    with pytest.raises(Http404):
        services.purchase_course(actor=student, course_id=999_999)


# --- comments ----------------------------------------------------------------------


@pytest.fixture
def bought(student: User, student2: User, course: Course) -> Course:
    Purchase.objects.create(user=student, course=course)
    Purchase.objects.create(user=student2, course=course)
    return course


def test_comment_notifies_instructor_only_and_reaches_course_page(
    student, instructor, admin_user, bought, django_capture_on_commit_callbacks
):
    body = "<b>Great</b> & clear"
    with django_capture_on_commit_callbacks() as callbacks:
        comment = services.post_comment(actor=student, course_id=bought.pk, body=body)

    assert Comment.objects.get().body == body  # stored as given
    assert kinds_by_recipient() == {instructor.pk: [NotificationKind.COURSE_COMMENT]}
    events = published(callbacks)
    assert routes(events) == sorted(
        [
            (user_group(instructor.pk), "notification.created"),
            (course_group(bought.pk), "course.comment.created"),
        ]
    )
    page_event = next(data for g, k, _, data in events if k == "course.comment.created")
    assert page_event == {
        "comment": {
            "id": comment.pk,
            "course_id": bought.pk,
            "parent_id": None,
            "author_id": student.pk,
            "author_name": "student",
            "body": body,
            "created_at": comment.created_at.isoformat(),
        }
    }


def test_reply_notifies_parent_author_and_instructor_never_the_replier(
    student, student2, instructor, bought, django_capture_on_commit_callbacks
):
    parent = services.post_comment(actor=student, course_id=bought.pk, body="Question?")
    Notification.objects.all().delete()

    with django_capture_on_commit_callbacks() as callbacks:
        services.post_comment(
            actor=student2, course_id=bought.pk, body="Answer.", parent_id=parent.pk
        )

    assert kinds_by_recipient() == {
        student.pk: [NotificationKind.COMMENT_REPLY],
        instructor.pk: [NotificationKind.COURSE_COMMENT],
    }
    assert student2.pk not in {g for g, *_ in published(callbacks)}


def test_instructor_reply_to_student_notifies_only_the_student(
    student, instructor, bought, django_capture_on_commit_callbacks
):
    parent = services.post_comment(actor=student, course_id=bought.pk, body="Question?")
    Notification.objects.all().delete()

    with django_capture_on_commit_callbacks() as callbacks:
        services.post_comment(
            actor=instructor, course_id=bought.pk, body="Answer.", parent_id=parent.pk
        )

    assert kinds_by_recipient() == {student.pk: [NotificationKind.COMMENT_REPLY]}
    assert routes(published(callbacks)) == sorted(
        [
            (user_group(student.pk), "notification.created"),
            (course_group(bought.pk), "course.comment.created"),
        ]
    )


def test_reply_to_instructor_comment_notifies_instructor_once(
    student, instructor, bought, django_capture_on_commit_callbacks
):
    parent = services.post_comment(actor=instructor, course_id=bought.pk, body="Welcome!")
    assert not Notification.objects.exists()  # the instructor's own comment

    with django_capture_on_commit_callbacks() as callbacks:
        services.post_comment(
            actor=student, course_id=bought.pk, body="Thanks", parent_id=parent.pk
        )

    assert kinds_by_recipient() == {instructor.pk: [NotificationKind.COMMENT_REPLY]}
    assert routes(published(callbacks)) == sorted(
        [
            (user_group(instructor.pk), "notification.created"),
            (course_group(bought.pk), "course.comment.created"),
        ]
    )


def test_replying_to_own_comment_notifies_only_the_instructor(student, instructor, bought):
    parent = services.post_comment(actor=student, course_id=bought.pk, body="Q")
    Notification.objects.all().delete()
    services.post_comment(actor=student, course_id=bought.pk, body="Q again", parent_id=parent.pk)
    assert kinds_by_recipient() == {instructor.pk: [NotificationKind.COURSE_COMMENT]}


def test_admin_may_comment_without_buying(admin_user, instructor, course):
    services.post_comment(actor=admin_user, course_id=course.pk, body="Moderator here")
    assert kinds_by_recipient() == {instructor.pk: [NotificationKind.COURSE_COMMENT]}


def test_non_buyer_cannot_comment(outsider, course, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(services.CourseActionError) as refused,
    ):
        services.post_comment(actor=outsider, course_id=course.pk, body="hi")
    assert (refused.value.code, refused.value.status) == ("purchase_required", 403)
    assert callbacks == []
    assert not Comment.objects.exists()


def test_reply_to_comment_of_another_course_is_refused(student, instructor, bought):
    other = Course.objects.create(
        title="Other", slug="other", instructor=instructor, is_published=True
    )
    foreign = Comment.objects.create(course=other, author=instructor, body="elsewhere")
    with pytest.raises(services.CourseActionError) as refused:
        services.post_comment(actor=student, course_id=bought.pk, body="x", parent_id=foreign.pk)
    assert (refused.value.code, refused.value.status) == ("invalid_parent", 400)
    assert Comment.objects.count() == 1
    assert not Notification.objects.exists()


def test_blank_comment_is_refused(student, bought):
    with pytest.raises(services.CourseActionError) as refused:
        services.post_comment(actor=student, course_id=bought.pk, body="   ")
    assert refused.value.status == 400
    assert not Comment.objects.exists()


def test_rolled_back_comment_notifies_no_one(student, bought, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        services.post_comment(actor=student, course_id=bought.pk, body="hi")
        raise Boom
    assert callbacks == []
    assert not Comment.objects.exists()
    assert not Notification.objects.exists()
    assert not KeptEvent.objects.exists()


# --- reviews -----------------------------------------------------------------------


def test_review_reaches_course_page_with_average_and_count(
    student, student2, bought, django_capture_on_commit_callbacks
):
    services.post_review(actor=student, course_id=bought.pk, rating=5, body="Top")

    with django_capture_on_commit_callbacks() as callbacks:
        result = services.post_review(actor=student2, course_id=bought.pk, rating=2, body="Meh")

    assert result.created is True
    events = published(callbacks)
    assert routes(events) == [(course_group(bought.pk), "course.review.created")]
    data = events[0][3]
    assert (data["rating_average"], data["rating_count"], data["updated"]) == (3.5, 2, False)
    assert data["review"]["rating"] == 2
    assert data["review"]["user_id"] == student2.pk
    assert not Notification.objects.exists()


def test_review_again_updates_the_same_review(student, bought, django_capture_on_commit_callbacks):
    first = services.post_review(actor=student, course_id=bought.pk, rating=5, body="Top")
    with django_capture_on_commit_callbacks() as callbacks:
        again = services.post_review(actor=student, course_id=bought.pk, rating=3, body="Hmm")

    assert again.created is False
    assert again.review.pk == first.review.pk
    assert Review.objects.get().rating == 3
    data = published(callbacks)[0][3]
    assert (data["rating_average"], data["rating_count"], data["updated"]) == (3.0, 1, True)


@pytest.mark.parametrize("who", ["outsider", "instructor", "admin_user"])
def test_only_buyers_may_review(who, request, course):
    actor = request.getfixturevalue(who)
    with pytest.raises(services.CourseActionError) as refused:
        services.post_review(actor=actor, course_id=course.pk, rating=4)
    assert (refused.value.code, refused.value.status) == ("purchase_required", 403)
    assert not Review.objects.exists()


@pytest.mark.parametrize("rating", [0, 6, True])
def test_rating_outside_1_to_5_is_refused(student, bought, rating):
    with pytest.raises(services.CourseActionError) as refused:
        services.post_review(actor=student, course_id=bought.pk, rating=rating)
    assert refused.value.status == 400
    assert not Review.objects.exists()

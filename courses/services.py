"""Writes of the course domain: purchases, comments, reviews (DESIGN.md §2).

Each function checks permission, writes in one transaction, and publishes after commit
through `realtime.publish`; a rolled-back write notifies no one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from accounts.models import User
from notifications.services import admin_ids, notify_comment_posted, notify_course_purchased
from realtime.groups import course_group
from realtime.publish import publish_kept_on_commit, publish_on_commit

from . import events
from .models import Comment, Purchase, Review
from .permissions import can_comment_on_course, can_review_course, get_course_for_user
from .selectors import course_rating

BODY_MAX = 4000


class CourseActionError(Exception):
    """A refused or invalid request; views turn it into ``{"detail", "code"}``."""

    def __init__(self, code: str, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class PurchaseResult:
    purchase: Purchase
    created: bool


@dataclass(frozen=True, slots=True)
class ReviewResult:
    review: Review
    created: bool
    rating_average: float | None
    rating_count: int


def _check_body(body: str, *, allow_blank: bool = False) -> None:
    if len(body) > BODY_MAX:
        raise CourseActionError("invalid", f"body: at most {BODY_MAX} characters.", status=400)
    if not allow_blank and not body.strip():
        raise CourseActionError("invalid", "body: must not be blank.", status=400)


def purchase_course(*, actor: User, course_id: int) -> PurchaseResult:
    """Buys a course once; buying again returns the same purchase and notifies no one.

    On a first purchase: notifications to the instructor (with `sound.play`) and to every
    admin, and a kept `course.purchased` to every admin, all after commit.
    Raises Http404 for a course the actor cannot see.
    """
    course = get_course_for_user(actor, course_id)
    if course.instructor_id == actor.pk:
        raise CourseActionError("own_course", "You teach this course; you cannot buy it.")
    if not course.is_published:
        raise CourseActionError("not_published", "This course is not on sale yet.")
    with transaction.atomic():
        purchase, created = Purchase.objects.select_related("course", "user").get_or_create(
            user=actor, course=course
        )
        if created:
            purchase.course = course
            purchase.user = actor
            notify_course_purchased(
                buyer_id=actor.pk,
                purchase_id=purchase.pk,
                course_id=course.pk,
                course_title=course.title,
                instructor_id=course.instructor_id,
            )
            publish_kept_on_commit(
                [uid for uid in admin_ids() if uid != actor.pk],
                events.COURSE_PURCHASED,
                events.purchase_data(purchase),
            )
    return PurchaseResult(purchase=purchase, created=created)


def post_comment(
    *, actor: User, course_id: int, body: str, parent_id: int | None = None
) -> Comment:
    """Adds a comment or a reply; stores `body` as given.

    Notifies the parent's author and the instructor (never the writer, never twice) and
    sends `course.comment.created` to the course page, after commit.
    """
    course = get_course_for_user(actor, course_id)
    if not can_comment_on_course(actor, course):
        raise CourseActionError(
            "purchase_required", "Only buyers, the instructor and admins may comment."
        )
    _check_body(body)
    with transaction.atomic():
        parent = None
        if parent_id is not None:
            parent = Comment.objects.filter(pk=parent_id, course=course).first()
            if parent is None:
                raise CourseActionError(
                    "invalid_parent", "parent_id: no such comment on this course.", status=400
                )
        comment = Comment.objects.create(course=course, author=actor, parent=parent, body=body)
        comment.author = actor
        notify_comment_posted(
            author_id=actor.pk,
            comment_id=comment.pk,
            course_id=course.pk,
            course_title=course.title,
            instructor_id=course.instructor_id,
            parent_author_id=parent.author_id if parent is not None else None,
            body=body,
        )
        publish_on_commit(
            course_group(course.pk), events.COURSE_COMMENT_CREATED, events.comment_created(comment)
        )
    return comment


def post_review(*, actor: User, course_id: int, rating: int, body: str = "") -> ReviewResult:
    """Rates a course (one review per user; posting again updates it).

    Sends `course.review.created` with the new average and count to the course page
    after commit.
    """
    course = get_course_for_user(actor, course_id)
    if not can_review_course(actor, course):
        raise CourseActionError("purchase_required", "Only buyers of this course may review it.")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise CourseActionError("invalid", "rating: must be an integer from 1 to 5.", status=400)
    _check_body(body, allow_blank=True)
    with transaction.atomic():
        review, created = Review.objects.update_or_create(
            course=course, user=actor, defaults={"rating": rating, "body": body}
        )
        review.user = actor
        average, count = course_rating(course.pk)
        publish_on_commit(
            course_group(course.pk),
            events.COURSE_REVIEW_CREATED,
            events.review_created(
                review, updated=not created, rating_average=average, rating_count=count
            ),
        )
    return ReviewResult(review=review, created=created, rating_average=average, rating_count=count)

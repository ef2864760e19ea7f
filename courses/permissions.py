"""Who may see what of a course. Fetchers 404 for "not yours" as for "not there"."""

from __future__ import annotations

from django.http import Http404

from accounts.models import User

from .models import Course


def can_view_course(user: User, course: Course) -> bool:
    """Published course pages are public to signed-in users; drafts to their instructor."""
    return course.is_published or course.instructor_id == user.pk or user.is_platform_admin


def can_manage_course(user: User, course: Course) -> bool:
    return course.instructor_id == user.pk or user.is_platform_admin


def get_course_for_user(user: User, course_id: int) -> Course:
    course = Course.objects.filter(pk=course_id).select_related("instructor").first()
    if course is None or not can_view_course(user, course):
        raise Http404("No such course.")
    return course


def has_purchased(user: User, course: Course) -> bool:
    return course.purchases.filter(user_id=user.pk).exists()


def can_comment_on_course(user: User, course: Course) -> bool:
    """Buyers, the course's instructor and admins discuss a course; browsers only read."""
    return can_manage_course(user, course) or has_purchased(user, course)


def can_review_course(user: User, course: Course) -> bool:
    """Only buyers rate a course; its instructor never rates their own."""
    return course.instructor_id != user.pk and has_purchased(user, course)

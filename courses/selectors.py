from __future__ import annotations

from django.db.models import Avg, Count, Q, QuerySet

from accounts.models import User

from .models import Comment, Course, Review


def visible_courses(user: User) -> QuerySet[Course]:
    """Courses the user may open, with their rating average and count."""
    courses = Course.objects.select_related("instructor").annotate(
        rating_average=Avg("reviews__rating"), rating_count=Count("reviews")
    )
    if user.is_platform_admin:
        return courses
    return courses.filter(Q(is_published=True) | Q(instructor=user))


def course_comments(course: Course) -> QuerySet[Comment]:
    return Comment.objects.filter(course=course).select_related("author").order_by("id")


def course_reviews(course: Course) -> QuerySet[Review]:
    return Review.objects.filter(course=course).select_related("user").order_by("id")


def course_rating(course_id: int) -> tuple[float | None, int]:
    """The rating average (2 decimals) and count of a course."""
    stats = Review.objects.filter(course_id=course_id).aggregate(
        average=Avg("rating"), count=Count("id")
    )
    average = stats["average"]
    return (None if average is None else round(float(average), 2), int(stats["count"]))

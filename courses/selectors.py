from __future__ import annotations

from django.db.models import Avg, Count, Q, QuerySet

from accounts.models import User

from .models import Course


def visible_courses(user: User) -> QuerySet[Course]:
    """Courses the user may open, with their rating average and count."""
    courses = Course.objects.select_related("instructor").annotate(
        rating_average=Avg("reviews__rating"), rating_count=Count("reviews")
    )
    if user.is_platform_admin:
        return courses
    return courses.filter(Q(is_published=True) | Q(instructor=user))

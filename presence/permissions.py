"""Who may report or see presence.

Watching rule (issue #5): a student may report watching a lesson of a *published* course
they *purchased*; the course's instructor and admins may watch any lesson of it
(previews). Viewing a course page (`course.join`) stays open to anyone who may view the
course: the viewer count is public, who watches what is not.
"""

from __future__ import annotations

from accounts.models import User
from courses.models import Lesson, Purchase
from courses.permissions import can_manage_course, can_view_course


class LessonNotWatchable(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "not_found" (absent or not visible) or "purchase_required"


def can_see_online_users(user: User) -> bool:
    return user.is_platform_admin


def can_see_watching(user: User, course_instructor_id: int) -> bool:
    """The course's instructor and admins; students see only counts."""
    return user.is_platform_admin or course_instructor_id == user.pk


def course_of_watchable_lesson(user: User, lesson_id: int) -> int:
    """The course id of a lesson the user may report watching; raises `LessonNotWatchable`."""
    lesson = Lesson.objects.select_related("course").filter(pk=lesson_id).first()
    if lesson is None or not can_view_course(user, lesson.course):
        raise LessonNotWatchable("not_found")
    course = lesson.course
    if can_manage_course(user, course):
        return course.pk
    if course.is_published and Purchase.objects.filter(user=user, course=course).exists():
        return course.pk
    raise LessonNotWatchable("purchase_required")

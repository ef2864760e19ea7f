"""`manage.py seed_demo`: the demo accounts and course, and running it again changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, User
from courses.models import Comment, Course, Lesson, Purchase, Review

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[list[tuple[str, str, bool, str]], list[tuple[str, str, bool]], int]:
    users = list(
        User.objects.order_by("username").values_list("username", "role", "is_staff", "password")
    )
    courses = list(Course.objects.values_list("slug", "instructor__username", "is_published"))
    return users, courses, Lesson.objects.count()


def test_seed_demo_creates_the_accounts_and_course_and_a_second_run_changes_nothing() -> None:
    # When it runs twice with the same password
    call_command("seed_demo", password="demo-pass-1")
    first = snapshot()
    call_command("seed_demo", password="demo-pass-1")

    # Then the second run changed nothing, not even the password hashes
    assert snapshot() == first
    users, courses, lessons = first
    assert [(name, role, is_staff) for name, role, is_staff, _ in users] == [
        ("admin", Role.ADMIN, True),
        ("instructor", Role.INSTRUCTOR, False),
        ("student", Role.STUDENT, False),
        ("student2", Role.STUDENT, False),
    ]
    assert courses == [("signals-101", "instructor", True)]
    assert lessons > 0
    assert all(User.objects.get(username=u).check_password("demo-pass-1") for u, *_ in users)
    # And the students start with nothing there, so a first purchase can be shown
    assert (Purchase.objects.count(), Comment.objects.count(), Review.objects.count()) == (0, 0, 0)


def test_seed_demo_with_a_new_password_changes_only_the_passwords() -> None:
    call_command("seed_demo", password="demo-pass-1")
    call_command("seed_demo", password="demo-pass-2")

    assert User.objects.count() == 4
    assert Course.objects.count() == 1
    assert User.objects.get(username="student").check_password("demo-pass-2")


def test_seed_demo_without_a_password_says_how_to_give_one(settings) -> None:
    settings.DEMO_PASSWORD = None

    with pytest.raises(CommandError, match="Set DEMO_PASSWORD or pass --password"):
        call_command("seed_demo")

    assert User.objects.count() == 0

"""Creates the demo accounts and course; running it again changes nothing (DESIGN.md §4)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Role, User
from courses.models import Course, Lesson

DEMO_USERS = (
    ("admin", Role.ADMIN),
    ("instructor", Role.INSTRUCTOR),
    ("student", Role.STUDENT),
    ("student2", Role.STUDENT),
)
DEMO_LESSONS = ("Welcome and course map", "Signals and sampling", "Filters in practice")


class Command(BaseCommand):
    help = "Create the demo accounts (admin, instructor, student, student2) and a demo course."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--password", help="password for every demo account (default: $DEMO_PASSWORD)"
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or settings.DEMO_PASSWORD
        if not password:
            raise CommandError("Set DEMO_PASSWORD or pass --password.")
        users = {}
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"role": role, "email": f"{username}@example.com"},
            )
            if created or not user.check_password(password):
                user.set_password(password)
            user.role = role
            user.is_staff = user.is_superuser = role == Role.ADMIN
            user.save()
            users[username] = user
        course, _ = Course.objects.get_or_create(
            slug="signals-101",
            defaults={
                "title": "Signals 101",
                "description": "A demo course: sampling, filters and what they sound like.",
                "instructor": users["instructor"],
                "is_published": True,
            },
        )
        for position, title in enumerate(DEMO_LESSONS, start=1):
            Lesson.objects.get_or_create(
                course=course, position=position, defaults={"title": title}
            )
        self.stdout.write(
            f"Demo data ready: users {', '.join(u for u, _ in DEMO_USERS)}; course #{course.pk}."
        )

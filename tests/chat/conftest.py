"""Chat fixtures: a bought course, conversations, and a clean live-tracking state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings

from accounts.models import Role, User
from chat.models import Conversation
from chat.services import open_conversation
from courses.models import Course, Purchase
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # Personas are created with passwords; PBKDF2 made fixture setup the slowest part.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def clean_live_state() -> Iterator[None]:
    # Rolled-back test transactions reuse conversation ids; stale "reading live" entries
    # of an earlier test must not leak into the next.
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("elearning:chat:live:*"):
        client.delete(key)
    yield
    client.close()


@pytest.fixture
def bought(student: User, course: Course) -> Purchase:
    return Purchase.objects.create(user=student, course=course)


@pytest.fixture
def admin2(db: None) -> User:
    return make_user("admin2", Role.ADMIN)


@pytest.fixture
def instructor_chat(student: User, course: Course, bought: Purchase) -> Conversation:
    conversation, _ = open_conversation(actor=student, kind="instructor", course_id=course.pk)
    return conversation


@pytest.fixture
def support_chat(student: User) -> Conversation:
    conversation, _ = open_conversation(actor=student, kind="support")
    return conversation

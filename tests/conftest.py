"""Shared fixtures: personas, a demo course, tokens and websocket helpers.

Tests run against the real parts: the Redis started by `scripts/with_redis.py` (or
REDIS_URL), the real channel layer, and the full ASGI application.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Role, User
from courses.models import Course, Lesson

ORIGIN = settings.ALLOWED_ORIGINS[0]


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("REDIS_URL"):
        raise pytest.UsageError(
            "REDIS_URL is unset: run the suite with `make test`, which starts a private Redis."
        )


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    # Every async test runs on its own event loop, but Channels keeps one layer object per
    # process, and the core layer's receive lock binds to the loop that first waited on
    # it. A consumer still receiving when its test's loop ended would hand the next test
    # a lock of a dead loop; a layer per test keeps tests as separate as processes are.
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def make_user(username: str, role: str = Role.STUDENT, **extra: Any) -> User:
    return User.objects.create_user(
        username=username,
        password="pw-" + username,
        role=role,
        email=f"{username}@t.example",
        **extra,
    )


@pytest.fixture
def student(db: None) -> User:
    return make_user("student")


@pytest.fixture
def student2(db: None) -> User:
    return make_user("student2")


@pytest.fixture
def outsider(db: None) -> User:
    return make_user("outsider")


@pytest.fixture
def instructor(db: None) -> User:
    return make_user("instructor", Role.INSTRUCTOR)


@pytest.fixture
def admin_user(db: None) -> User:
    return make_user("admin", Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def course(instructor: User) -> Course:
    course = Course.objects.create(
        title="Signals 101", slug="signals-101", instructor=instructor, is_published=True
    )
    for position in (1, 2):
        Lesson.objects.create(course=course, position=position, title=f"Lesson {position}")
    return course


def access_token(user: User) -> str:
    return str(AccessToken.for_user(user))


def api_client(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
    return client


class Socket:
    """A websocket client through the full ASGI stack, speaking the §6 protocol."""

    def __init__(self, origin: str = ORIGIN, headers: list[tuple[bytes, bytes]] | None = None):
        from elearning.asgi import application

        self.communicator = WebsocketCommunicator(
            application, "/ws/", headers=[(b"origin", origin.encode()), *(headers or [])]
        )
        self.refs = 0
        self.backlog: list[dict[str, Any]] = []

    async def connect(self) -> bool:
        connected, _ = await self.communicator.connect(timeout=5)
        return bool(connected)

    async def auth(self, token: str) -> dict[str, Any]:
        await self.send_json({"type": "auth", "token": token})
        return await self.receive()

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(message))

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def receive_output(self, timeout: float = 5) -> dict[str, Any]:
        return await self.communicator.receive_output(timeout=timeout)

    async def command(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sends a command and returns its reply; events that arrive first are kept."""
        self.refs += 1
        ref = f"r{self.refs}"
        await self.send_json({"type": kind, "ref": ref, "data": data or {}})
        while True:
            message = await self.receive()
            if message.get("ref") == ref and message["type"] in ("ack", "error"):
                return message
            self.backlog.append(message)

    async def next_event(self, timeout: float = 5) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        return await self.receive(timeout)

    async def nothing_more(self, timeout: float = 0.3) -> bool:
        return not self.backlog and await self.communicator.receive_nothing(timeout=timeout)

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
async def open_socket() -> AsyncIterator[Any]:
    """Opens authenticated sockets: ``ws = await open_socket(user)``; all closed at the end."""
    sockets: list[Socket] = []

    async def opener(user: User) -> Socket:
        socket = Socket()
        assert await socket.connect()
        ready = await socket.auth(access_token(user))
        assert ready["type"] == "session.ready", ready
        sockets.append(socket)
        return socket

    yield opener
    for socket in sockets:
        await socket.close()


@pytest.fixture
def settings_media(tmp_path: Any, settings: Any) -> Iterator[Any]:
    settings.MEDIA_ROOT = tmp_path / "media"
    yield settings

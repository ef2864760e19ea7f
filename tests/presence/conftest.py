from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import User
from tests.conftest import Socket, access_token


@pytest.fixture(autouse=True)
def presence_keys(settings: Any) -> Iterator[str]:
    """Each test gets its own Redis key space, so no state leaks between tests."""
    settings.PRESENCE_KEY_PREFIX = f"test-presence:{uuid.uuid4().hex[:12]}:"
    yield settings.PRESENCE_KEY_PREFIX


async def connect(user: User) -> Socket:
    """An authenticated socket the test closes itself (the `open_socket` fixture closes its own)."""
    socket = Socket()
    assert await socket.connect()
    ready = await socket.auth(access_token(user))
    assert ready["type"] == "session.ready", ready
    return socket


async def events_of(socket: Socket, kind: str, *, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every event of `kind` that arrives until the socket has been quiet for `quiet` s."""
    found = [e for e in socket.backlog if e["type"] == kind]
    socket.backlog = [e for e in socket.backlog if e["type"] != kind]
    # A receive that times out would cancel the application (asgiref), so poll instead.
    while not await socket.communicator.receive_nothing(timeout=quiet):
        event = await socket.receive()
        if event["type"] == kind:
            found.append(event)
        else:
            socket.backlog.append(event)
    return found

"""Presence across two real web server processes sharing one Redis, and a SIGKILL.

The processes run with PRESENCE_TTL_S=3 (heartbeat every 1 s). Nobody sweeps on the
test's behalf: the surviving web server process's own heartbeat loop sweeps the killed one's
expired entries and broadcasts the transitions.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from datetime import datetime
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from accounts.models import User
from courses.models import Course
from tests.conftest import access_token
from tests.processes import web_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TTL_S = 3.0


class Client:
    """A `websockets` client speaking the §6 protocol; keeps every event it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.replies: dict[str, dict[str, Any]] = {}
        self.refs = 0
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, port: int, user: User) -> Client:
        ws = await connect(f"ws://127.0.0.1:{port}/ws/", origin=f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "auth", "token": access_token(user)}))
        ready = json.loads(await ws.recv())
        assert ready["type"] == "session.ready", ready
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                message = json.loads(text)
                if message["type"] in ("ack", "error"):
                    self.replies[message["ref"]] = message
                else:
                    self.events.append(message)
        except Exception:  # the server died under us (SIGKILL): stop reading
            return

    async def command(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        self.refs += 1
        ref = f"r{self.refs}"
        await self.ws.send(json.dumps({"type": kind, "ref": ref, "data": data}))
        deadline = time.monotonic() + 10
        while ref not in self.replies:
            assert time.monotonic() < deadline, f"no reply to {kind}"
            await asyncio.sleep(0.01)
        return self.replies.pop(ref)

    def take(self, kind: str) -> list[dict[str, Any]]:
        found = [e["data"] for e in self.events if e["type"] == kind]
        self.events = [e for e in self.events if e["type"] != kind]
        return found

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def wait_until(predicate: Any, timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def get_json(port: int, user: User, path: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": f"Bearer {access_token(user)}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


async def test_two_processes_one_user_and_a_killed_process_corrects_itself(
    student: User, student2: User, admin_user: User, course: Course, presence_keys: str
) -> None:
    env = {"PRESENCE_TTL_S": str(TTL_S), "PRESENCE_KEY_PREFIX": presence_keys}
    with web_server(env) as (port_a, process_a), web_server(env) as (port_b, _):
        admin = await Client.open(port_b, admin_user)
        assert (await admin.command("course.join", {"course_id": course.pk}))["data"][
            "viewers"
        ] == 1

        # The same user on both processes is one online user and one viewer.
        on_a, on_b = await Client.open(port_a, student), await Client.open(port_b, student)
        for client in (on_a, on_b):
            reply = await client.command("course.join", {"course_id": course.pk})
            assert reply["data"]["viewers"] == 2
        only_a = await Client.open(port_a, student2)
        assert (await only_a.command("course.join", {"course_id": course.pk}))["data"][
            "viewers"
        ] == 3
        await asyncio.sleep(1.5)  # let the throttled trailing count arrive
        online = [
            (d["user_id"], d["is_online"], d["reason"]) for d in admin.take("presence.changed")
        ]
        assert online == [
            (admin_user.pk, True, "connect"),
            (student.pk, True, "connect"),
            (student2.pk, True, "connect"),
        ]
        assert admin.take("course.viewers")[-1] == {"course_id": course.pk, "viewers": 3}
        body = await asyncio.to_thread(get_json, port_b, admin_user, "/api/presence/online/")
        assert {u["user_id"]: u["connections"] for u in body["users"]} == {
            admin_user.pk: 1,
            student.pk: 2,
            student2.pk: 1,
        }
        detail = await asyncio.to_thread(get_json, port_b, student, f"/api/courses/{course.pk}/")
        assert detail["viewer_count"] == 3

        # Heartbeats (every 1 s in both processes) announce nothing while nothing changes.
        await asyncio.sleep(2.5)
        assert admin.take("presence.changed") == [] and admin.take("course.viewers") == []

        process_a.send_signal(signal.SIGKILL)
        process_a.wait()
        killed_at = time.time()
        # Within the TTL plus one sweep (heartbeat) plus the throttle; generous for CI.
        elapsed = await wait_until(
            lambda: (
                any(e["type"] == "course.viewers" for e in admin.events)
                and any(e["type"] == "presence.changed" for e in admin.events)
            ),
            timeout=TTL_S + 12,
        )
        await asyncio.sleep(1.5)  # anything else that would (wrongly) follow
        changed = admin.take("presence.changed")
        assert [(d["user_id"], d["is_online"], d["reason"]) for d in changed] == [
            (student2.pk, False, "expired")
        ]
        # Last seen is the killed socket's last heartbeat: before the kill, not after.
        last_seen = datetime.fromisoformat(changed[0]["last_seen"]).timestamp()
        assert killed_at - TTL_S - 2 <= last_seen <= killed_at + 1
        # student is still on B: one viewer, still online; student2 is gone.
        assert admin.take("course.viewers") == [{"course_id": course.pk, "viewers": 2}]
        body = await asyncio.to_thread(get_json, port_b, admin_user, "/api/presence/online/")
        assert {u["user_id"]: u["connections"] for u in body["users"]} == {
            admin_user.pk: 1,
            student.pk: 1,
        }
        assert [u["user_id"] for u in body["recently_offline"]] == [student2.pk]
        detail = await asyncio.to_thread(get_json, port_b, student, f"/api/courses/{course.pk}/")
        assert detail["viewer_count"] == 2
        # The survivor's idle sockets are alive and well (no read timeout dropped them).
        assert (await on_b.command("ping", {}))["type"] == "ack"
        print(f"corrected {elapsed:.1f} s after SIGKILL (TTL {TTL_S} s, heartbeat 1 s)")
        for client in (admin, on_b):
            await client.close()

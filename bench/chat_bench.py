"""Chat end to end through a real web server process: throughput and send → receive latency.

    .venv/bin/python scripts/with_redis.py -- .venv/bin/python bench/chat_bench.py \
        [--messages N] [--window N] [--latency-messages N]

Starts one real web server (`tests/processes.web_server`) on a fresh SQLite database in a
temporary folder and the Redis channel layer from REDIS_URL. A student and the course's
instructor each open a websocket (JWT auth, real Origin); the instructor joins the
conversation (so no notifications are written, as when both are chatting live).

1. Throughput: the student sends N `chat.send` with at most W unacknowledged; the clock
   stops when the instructor's socket has received the N-th `chat.message`.
2. Latency: one message at a time; send → the instructor's socket receives it.
   Also reported: the per-message latency seen during the throughput run (queueing
   included).

Both clients run in this process on one event loop; the server is the other process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from elearning.devservices import asgi_server  # noqa: E402


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


class Client:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, origin: str, token: str) -> Client:
        import websockets

        ws = await websockets.connect(
            url, origin=websockets.Origin(origin), max_queue=None, compression=None
        )
        await ws.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(await ws.recv())
        assert ready["type"] == "session.ready", ready
        return cls(ws)

    async def send(self, kind: str, ref: str, data: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"type": kind, "ref": ref, "data": data}))

    async def recv(self) -> dict[str, Any]:
        return json.loads(await self.ws.recv())


async def run(port: int, tokens: dict[str, str], conversation_id: int, args: Any) -> None:
    url = f"ws://127.0.0.1:{port}/ws/"
    origin = f"http://127.0.0.1:{port}"
    student = await Client.open(url, origin, tokens["student"])
    instructor = await Client.open(url, origin, tokens["instructor"])
    await instructor.send("chat.join", "j", {"conversation_id": conversation_id})
    assert (await instructor.recv())["type"] == "ack"

    sent_at: dict[int, float] = {}  # by client_id number
    received_at: dict[int, float] = {}

    async def receive(count: int) -> None:
        while len(received_at) < count:
            event = await instructor.recv()
            if event["type"] == "chat.message":
                received_at[int(event["data"]["client_id"])] = time.perf_counter()

    # --- throughput ---
    total = args.messages
    window = asyncio.Semaphore(args.window)

    async def acks() -> None:
        seen = 0
        while seen < total:
            reply = await student.recv()
            if reply["type"] == "ack":
                seen += 1
                window.release()
            elif reply["type"] == "error":
                raise RuntimeError(reply)

    async def sends() -> None:
        for n in range(total):
            await window.acquire()
            sent_at[n] = time.perf_counter()
            await student.send(
                "chat.send",
                str(n),
                {"conversation_id": conversation_id, "body": f"message {n}", "client_id": str(n)},
            )

    start = time.perf_counter()
    await asyncio.gather(sends(), acks(), receive(total))
    elapsed = time.perf_counter() - start
    loaded = [(received_at[n] - sent_at[n]) * 1000 for n in range(total)]

    # --- latency, one at a time ---
    sent_at.clear()
    received_at.clear()
    single: list[float] = []
    base = 1_000_000
    for n in range(base, base + args.latency_messages):
        sent_at[n] = time.perf_counter()
        await student.send(
            "chat.send",
            str(n),
            {"conversation_id": conversation_id, "body": f"ping {n}", "client_id": str(n)},
        )
        while n not in received_at:
            event = await instructor.recv()
            if event["type"] == "chat.message":
                received_at[int(event["data"]["client_id"])] = time.perf_counter()
        single.append((received_at[n] - sent_at[n]) * 1000)
        # Drain the student's own ack and echo so they do not pile up.
    await student.ws.close()
    await instructor.ws.close()

    server = asgi_server(os.environ)
    print(f"server: one {server} process; clients: websockets in one process; window {args.window}")
    print(
        f"throughput: {total} messages in {elapsed:.2f} s = {total / elapsed:.0f} msg/s "
        "(send → stored → delivered to the other side)"
    )
    print(
        f"latency under that load: p50 {statistics.median(loaded):.1f} ms, "
        f"p99 {percentile(loaded, 99):.1f} ms, max {max(loaded):.1f} ms"
    )
    print(
        f"latency one at a time ({len(single)}): p50 {statistics.median(single):.1f} ms, "
        f"p99 {percentile(single, 99):.1f} ms, max {max(single):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--window", type=int, default=32, help="unacknowledged sends at most")
    parser.add_argument("--latency-messages", type=int, default=300)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is unset: run through scripts/with_redis.py")
    sys.path.insert(0, str(REPO_ROOT))
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        os.environ["MEDIA_ROOT"] = f"{tmp}/media"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elearning.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from rest_framework_simplejwt.tokens import AccessToken

        from accounts.models import Role, User
        from chat.services import open_conversation
        from courses.models import Course, Purchase
        from tests.processes import web_server

        call_command("migrate", verbosity=0)
        student = User.objects.create_user("bench-student")
        teacher = User.objects.create_user("bench-teacher", role=Role.INSTRUCTOR)
        course = Course.objects.create(
            title="Bench", slug="bench", instructor=teacher, is_published=True
        )
        Purchase.objects.create(user=student, course=course)
        conversation, _ = open_conversation(actor=student, kind="instructor", course_id=course.pk)
        tokens = {
            "student": str(AccessToken.for_user(student)),
            "instructor": str(AccessToken.for_user(teacher)),
        }
        with web_server() as (port, _process):
            asyncio.run(run(port, tokens, conversation.pk, args))


if __name__ == "__main__":
    main()

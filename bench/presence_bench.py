"""Presence at scale on one real web server process (`ASGI_SERVER`, uvicorn by default):
memory per idle socket, heartbeat cost.

    .venv/bin/python scripts/with_redis.py -- .venv/bin/python bench/presence_bench.py \
        [--sockets N] [--users U] [--heartbeat S] [--idle S]

Starts one web server (`tests/processes.web_server`) on a fresh SQLite database in a
temporary folder. N websockets (the `websockets` client, JWT auth, real Origin, no
compression) for U distinct users are opened and each joins the same course page, so
every socket has a presence entry and a viewer entry that the process's single heartbeat
task refreshes every S seconds (one Lua call per 500 sockets). Reported:

- RSS of the web server process before and after, and the delta per socket;
- server CPU while the N sockets sit idle for --idle seconds (only heartbeats run), per
  socket per heartbeat;
- that Redis agrees: U users online, U distinct viewers (not N); and 0 of both once
  every socket has closed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from elearning.devservices import asgi_server  # noqa: E402


async def open_socket(url: str, origin: str, token: str, course_id: int) -> Any:
    import websockets

    ws = await websockets.connect(
        url,
        origin=origin,  # type: ignore[arg-type]
        max_queue=None,
        compression=None,
    )
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await ws.recv())
    assert ready["type"] == "session.ready", ready
    await ws.send(json.dumps({"type": "course.join", "ref": "j", "data": {"course_id": course_id}}))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("ref") == "j":
            assert reply["type"] == "ack", reply
            return ws


async def drain(ws: Any) -> None:
    """Reads (and drops) the events an idle socket gets, as a browser would."""
    try:
        async for _ in ws:
            pass
    except Exception:
        return


async def run(port: int, pid: int, tokens: list[str], course_id: int, args: Any) -> None:
    import psutil

    from presence.selectors import online_users, viewer_counts

    url = f"ws://127.0.0.1:{port}/ws/"
    origin = f"http://127.0.0.1:{port}"
    server = psutil.Process(pid)

    warm = await open_socket(url, origin, tokens[0], course_id)
    await warm.close()
    await asyncio.sleep(1.5)
    rss_before = server.memory_info().rss

    sockets: list[Any] = []
    started = time.perf_counter()
    for start in range(0, args.sockets, 100):
        batch = [
            open_socket(url, origin, tokens[i % len(tokens)], course_id)
            for i in range(start, min(start + 100, args.sockets))
        ]
        sockets += await asyncio.gather(*batch)
    opened_s = time.perf_counter() - started
    readers = [asyncio.ensure_future(drain(ws)) for ws in sockets]

    await asyncio.sleep(2 * args.heartbeat + 1)  # let heartbeats run over all of them
    rss_after = server.memory_info().rss
    cpu_before = sum(server.cpu_times()[:2])
    await asyncio.sleep(args.idle)
    cpu_idle = sum(server.cpu_times()[:2]) - cpu_before
    beats = args.idle / args.heartbeat

    online = await asyncio.to_thread(online_users)
    viewers = (await asyncio.to_thread(viewer_counts, [course_id]) or {}).get(course_id)

    for ws in sockets:
        await ws.close()
    for reader in readers:
        reader.cancel()
    closed_at = time.perf_counter()
    while True:  # the server handles 1000 disconnects: wait for them, up to 60 s
        online_after = (await asyncio.to_thread(online_users))["count"]
        viewers_after = (await asyncio.to_thread(viewer_counts, [course_id]) or {}).get(course_id)
        if (online_after == 0 and viewers_after == 0) or time.perf_counter() - closed_at > 60:
            break
        await asyncio.sleep(0.2)
    drained_s = time.perf_counter() - closed_at

    n = args.sockets
    server = asgi_server(os.environ)
    print(
        f"sockets held by one {server} process: {n} ({len(tokens)} users), "
        f"opened in {opened_s:.1f} s"
    )
    print(f"{server} RSS: {rss_before / 2**20:.1f} MiB -> {rss_after / 2**20:.1f} MiB")
    print(f"memory per idle socket (RSS delta / N): {(rss_after - rss_before) / n / 1024:.1f} KiB")
    print(
        f"idle CPU with heartbeats every {args.heartbeat:g} s over {args.idle:g} s: "
        f"{cpu_idle * 1000:.0f} ms = {cpu_idle / beats / n * 1e6:.1f} µs per socket per beat"
    )
    print(f"Redis while open: online users {online['count']}, course viewers {viewers}")
    print(
        f"Redis after close: online users {online_after}, course viewers {viewers_after} "
        f"({drained_s:.1f} s after the clients closed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--heartbeat", type=float, default=2.0)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is unset: run through scripts/with_redis.py")
    sys.path.insert(0, str(REPO_ROOT))
    with tempfile.TemporaryDirectory(prefix="presence-bench-") as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        os.environ["MEDIA_ROOT"] = f"{tmp}/media"
        os.environ["PRESENCE_KEY_PREFIX"] = f"bench-presence:{uuid.uuid4().hex[:8]}:"
        os.environ["PRESENCE_HEARTBEAT_S"] = str(args.heartbeat)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elearning.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from rest_framework_simplejwt.tokens import AccessToken

        from accounts.models import Role, User
        from courses.models import Course
        from tests.processes import web_server

        call_command("migrate", verbosity=0)
        teacher = User.objects.create_user("bench-teacher", role=Role.INSTRUCTOR)
        course = Course.objects.create(
            title="Bench", slug="bench", instructor=teacher, is_published=True
        )
        users = User.objects.bulk_create(
            [User(username=f"bench-{i}", role=Role.STUDENT) for i in range(args.users)]
        )
        tokens = [str(AccessToken.for_user(u)) for u in users]
        with web_server() as (port, process):
            asyncio.run(run(port, process.pid, tokens, course.pk, args))


if __name__ == "__main__":
    main()

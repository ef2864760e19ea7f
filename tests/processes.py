"""Real processes for end-to-end tests: Celery workers and web servers on the test DB.

Use them from tests marked ``django_db(transaction=True)`` so that what the test writes
is committed and visible to the child processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from elearning.devservices import free_port, web_server_command

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process that must see this test's database and media."""
    database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "elearning.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra or {})
    return env


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def celery_worker(
    queues: str = "celery,videos", concurrency: int = 1, extra_env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process; yields once it answers a ping."""
    from elearning.celery import app

    name = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    process = subprocess.Popen(
        [
            str(BIN / "celery"), "-A", "elearning", "worker", "--loglevel", "WARNING",
            "--queues", queues, "--concurrency", str(concurrency), "--hostname", name,
            "--without-gossip", "--without-mingle",
        ],
        cwd=ROOT,
        env=child_env(extra_env),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {process.returncode}")
            if app.control.ping(destination=[name], timeout=0.5):
                break
        else:
            raise RuntimeError("celery worker did not answer within 60 s")
        yield process
    finally:
        _stop(process)


@contextmanager
def web_server(
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A real web server process (the one `make run` starts: `ASGI_SERVER`, uvicorn by
    default) serving the project; yields (port, process) once it listens."""
    port = free_port()
    origins = f"http://127.0.0.1:{port},{','.join(settings.ALLOWED_ORIGINS)}"
    env = child_env({"ALLOWED_ORIGINS": origins, "PORT": str(port), **(extra_env or {})})
    process = subprocess.Popen(
        web_server_command(env, port, Path(settings.VAR_DIR)), cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the web server exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the web server did not listen within 30 s")
        yield port, process
    finally:
        _stop(process)

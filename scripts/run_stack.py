"""`make run`: migrate, seed the demo, start Redis (unless REDIS_URL is set), daphne and
a Celery worker in the foreground. Ctrl-C or SIGTERM stops everything it started."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from elearning.devservices import RedisServer, start_redis, web_server_command  # noqa: E402

BIN = Path(sys.executable).parent


def main() -> int:
    os.chdir(ROOT)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "elearning.settings")
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.setdefault("PORT", "8000")
    generated_password = not env.get("DEMO_PASSWORD")
    if generated_password:
        env["DEMO_PASSWORD"] = secrets.token_urlsafe(12)

    redis: RedisServer | None = None
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if not env.get("REDIS_URL"):
            redis = start_redis(ROOT / "var" / "redis")
            env["REDIS_URL"] = redis.url
            print(f"Started a private Redis at {redis.url}", flush=True)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        subprocess.run([*manage, "seed_demo"], env=env, check=True)
        children.append(
            (
                "worker",
                subprocess.Popen(
                    [
                        str(BIN / "celery"), "-A", "elearning", "worker", "--beat",
                        "--loglevel", "INFO", "--queues", "celery,videos",
                        "--concurrency", env.get("WORKER_CONCURRENCY", "2"),
                        "--schedule", str(ROOT / "var" / "celerybeat-schedule"),
                    ],
                    env=env,
                ),
            )
        )  # fmt: skip
        children.append(
            ("web", subprocess.Popen(web_server_command(env, port, ROOT / "var"), env=env))
        )
        print(
            f"\n  elearning is starting on http://127.0.0.1:{port}/\n"
            f"  demo logins: admin, instructor, student, student2\n"
            f"  password:    {env['DEMO_PASSWORD']}"
            f"{'  (generated; set DEMO_PASSWORD to choose one)' if generated_password else ''}\n"
            f"  health:      http://127.0.0.1:{port}/healthz   Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping.", file=sys.stderr)
                    return 1
            time.sleep(0.3)
        return 0
    except subprocess.CalledProcessError as error:
        print(f"Set-up failed: {error}", file=sys.stderr)
        return 1
    finally:
        for _, child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for _, child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())

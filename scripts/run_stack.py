"""`make run`: migrate, seed the demo, start Redis (unless REDIS_URL is set), the web
server and a Celery worker in the foreground; says when /healthz answers. Ctrl-C or
SIGTERM stops everything it started."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from elearning.devservices import RedisServer, start_redis, web_server_command  # noqa: E402

BIN = Path(sys.executable).parent
VAR = ROOT / "var"
READY_TIMEOUT_S = 180


def demo_password(env: dict[str, str]) -> tuple[str, bool]:
    """$DEMO_PASSWORD, else one generated once into var/demo_password (stable across
    runs, and what `manage.py seed_demo` reads too); True when it was generated."""
    if env.get("DEMO_PASSWORD"):
        return env["DEMO_PASSWORD"], False
    path = VAR / "demo_password"
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip(), True


def is_healthy(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> int:
    os.chdir(ROOT)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "elearning.settings")
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.setdefault("PORT", "8000")
    env["DEMO_PASSWORD"], generated_password = demo_password(env)

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
            redis = start_redis(VAR / "redis")
            env["REDIS_URL"] = redis.url
            (VAR / "redis_url").write_text(redis.url)
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
        is_ready = is_late = False
        started = time.monotonic()
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping.", file=sys.stderr)
                    return 1
            if not is_ready and is_healthy(port):
                is_ready = True
                generated = " (generated once into var/demo_password)" if generated_password else ""
                print(
                    f"\n  elearning is up on http://127.0.0.1:{port}/\n"
                    f"  demo logins: admin, instructor, student, student2\n"
                    f"  password:    {env['DEMO_PASSWORD']}{generated}\n"
                    f"  health:      http://127.0.0.1:{port}/healthz   Ctrl-C stops everything.\n",
                    flush=True,
                )
            elif not is_ready and not is_late and time.monotonic() - started > READY_TIMEOUT_S:
                is_late = True  # said once; the stack keeps running
                print(
                    f"/healthz did not answer 200 within {READY_TIMEOUT_S} s; "
                    f"see http://127.0.0.1:{port}/healthz for what is down.",
                    file=sys.stderr,
                    flush=True,
                )
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
            (VAR / "redis_url").unlink(missing_ok=True)
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())

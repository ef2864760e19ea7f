"""Runs a command with REDIS_URL set, starting a private Redis first when it is unset.

python scripts/with_redis.py -- pytest -q
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elearning.devservices import start_redis


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: with_redis.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if os.environ.get("REDIS_URL"):
        return subprocess.call(argv)
    with tempfile.TemporaryDirectory(prefix="elearning-redis-") as workdir:
        redis = start_redis(Path(workdir))
        try:
            return subprocess.call(argv, env={**os.environ, "REDIS_URL": redis.url})
        finally:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`make bench`: every benchmark of the project, one after another, with their figures.

    python scripts/with_redis.py -- python bench/run_all.py [NAME ...]

NAME is one of: pipeline, announce, chat, presence, fanout. The fan-out benchmark
needs ../shared/bench/fanout and a load-generator venv (see README, "Performance");
it is skipped with a note when either is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FANOUT = ROOT.parent / "shared" / "bench" / "fanout"
LOADGEN_PYTHON = Path(
    os.environ.get("LOADGEN_PYTHON", ROOT / "var" / "loadgen-venv" / "bin" / "python")
)

BENCHES: dict[str, list[str]] = {
    "pipeline": [sys.executable, "bench/pipeline_bench.py", "--repeat", "2"],
    "announce": [sys.executable, "bench/announce_bench.py"],
    "chat": [sys.executable, "bench/chat_bench.py"],
    "presence": [sys.executable, "bench/presence_bench.py"],
    "fanout": [
        str(LOADGEN_PYTHON), str(FANOUT / "run.py"), "elearning", "--project", str(ROOT),
        "--project-python", sys.executable, "-n", "100", "500", "1000", "--repeat", "3",
        "--uvloop", "--fast-rx", "--table",
        "--publish-adapter", "realtime.bench_adapter:publish_bench_event",
    ],
}  # fmt: skip


def main(names: list[str]) -> int:
    failures = 0
    for name in names or list(BENCHES):
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}")
            return 2
        if name == "fanout" and not (FANOUT.exists() and LOADGEN_PYTHON.exists()):
            print(
                f"\n=== fanout: skipped (needs {FANOUT} and a venv with websockets and uvloop at "
                f"{LOADGEN_PYTHON}; see README)"
            )
            continue
        print(f"\n=== {name}: {' '.join(BENCHES[name][1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(BENCHES[name], cwd=ROOT)
        print(f"=== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The video queue end to end: a real web server (uvicorn), a real Celery worker, the real model.

Upload over HTTP with a JWT, follow `video.progress` over a real websocket, check the
subtitles against reference transcripts and the subtitle track in the output MP4.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import av
import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests.conftest import access_token, make_user
from tests.processes import celery_worker, web_server
from videos.pipeline import find_ffmpeg

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
JOB_TIMEOUT_S = 240.0


def word_error_rate(reference: str, hypothesis: str) -> float:
    def words(text: str) -> list[str]:
        return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()

    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, start=1):
            diagonal, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word)),
            )
    return row[-1] / len(ref)


def vtt_text(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return " ".join(
        line for line in lines[1:] if line.strip() and "-->" not in line and not line.isdigit()
    )


def jfk_video(folder: Path) -> Path:
    """jfk.flac under a lavfi test picture, as an MP4 lecture."""
    out = folder / "jfk.mp4"
    subprocess.run(
        [
            find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
            "-i", str(SHARED_FIXTURES / "jfk.flac"), "-shortest",
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-c:a", "aac", str(out),
        ],
        check=True,
    )  # fmt: skip
    return out


def multipart(fields: dict[str, str], file_path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{file_path.name}"\r\nContent-Type: video/mp4\r\n\r\n'
    )
    body = "".join(parts).encode() + head.encode() + file_path.read_bytes()
    body += f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload(port: int, token: str, path: Path) -> tuple[int, dict[str, Any]]:
    body, content_type = multipart({"upload_type": "content"}, path)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/videos/",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get_job(port: int, token: str, job_id: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/videos/{job_id}/",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


async def open_ws(port: int, token: str) -> Any:
    ws = await connect(f"ws://127.0.0.1:{port}/ws/", origin=Origin(f"http://127.0.0.1:{port}"))
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "session.ready", ready
    return ws


async def follow(ws: Any, job_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Collect `video.progress` data per job until every job has ended."""
    seen: dict[str, list[dict[str, Any]]] = {job_id: [] for job_id in job_ids}
    seqs: list[int] = []
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while any(not jobs or jobs[-1]["status"] not in ("success", "error") for jobs in seen.values()):
        message = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if message["type"] != "video.progress" or message["data"]["id"] not in seen:
            continue
        seqs.append(message["seq"])
        seen[message["data"]["id"]].append(message["data"])
    assert seqs == sorted(set(seqs)), "seq must strictly increase"
    return seen


def media_file(media_root: Path, url: str) -> Path:
    assert url.startswith("/media/"), url
    return media_root / url.removeprefix("/media/")


def subtitle_streams(path: Path) -> list[tuple[str, str | None]]:
    with av.open(str(path)) as container:
        return [
            (stream.codec_context.codec.name, stream.language)
            for stream in container.streams
            if stream.type == "subtitle"
        ]


@pytest.fixture
def token(db: None) -> str:
    return access_token(make_user("e2e-instructor", "instructor"))


async def test_uploads_are_processed_live_with_accurate_subtitles(video_env, tmp_path, token):
    uploads = [(FIXTURES / "lecture.mp4", (FIXTURES / "lecture.txt").read_text())]
    if (SHARED_FIXTURES / "jfk.flac").exists():
        uploads.append((jfk_video(tmp_path), JFK_TEXT))
    started = time.monotonic()

    with web_server() as (port, _), celery_worker(queues="videos"):
        ws = await open_ws(port, token)
        try:
            references: dict[str, str] = {}
            for path, reference in uploads:
                status, job = await asyncio.to_thread(upload, port, token, path)
                assert status == 202, job
                assert (job["status"], job["progress"]) == ("pending", 0)
                references[job["id"]] = reference
            seen = await follow(ws, set(references))
            final = {
                job_id: await asyncio.to_thread(get_job, port, token, job_id) for job_id in seen
            }
        finally:
            await ws.close()
    elapsed = time.monotonic() - started

    for job_id, events in seen.items():
        progress = [event["progress"] for event in events]
        assert progress == sorted(progress), progress
        assert len(set(progress)) >= 5, progress
        assert events[-1]["status"] == "success", events[-1]
        assert events[-1]["progress"] == 100
        assert [event["status"] for event in events].count("success") == 1
        assert {"probe", "transcribe", "upload", "done"} <= {event["stage"] for event in events}
        assert final[job_id] == events[-1]
        result = events[-1]["result"]
        assert (result["format"], result["warning"], result["error"]) == ("mp4", None, None)
        assert result["subtitles"]["language"] == "en"
        vtt = media_file(video_env.MEDIA_ROOT, result["subtitles"]["vtt"])
        assert vtt.read_text(encoding="utf-8").startswith("WEBVTT")
        wer = word_error_rate(references[job_id], vtt_text(vtt))
        assert wer <= 0.10, (wer, vtt_text(vtt))
        video = media_file(video_env.MEDIA_ROOT, result["url"])
        assert subtitle_streams(video) == [("mov_text", "eng")]
    print(f"\nend-to-end: {len(seen)} video(s) processed in {elapsed:.1f} s")


def worker_children(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


async def test_a_killed_worker_does_not_leave_the_job_processing(video_env, token):
    from videos import services

    with web_server() as (port, _):
        ws = await open_ws(port, token)
        try:
            with celery_worker(queues="videos") as worker:
                status, job = await asyncio.to_thread(upload, port, token, FIXTURES / "lecture.mp4")
                assert status == 202, job
                # Wait until the worker is inside the pipeline, then kill it and its pool.
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if message["type"] == "video.progress" and message["data"]["progress"] >= 5:
                        break
                for child in worker_children(worker):
                    child.send_signal(signal.SIGKILL)
                worker.send_signal(signal.SIGKILL)
                worker.wait()
            killed_state = await asyncio.to_thread(get_job, port, token, job["id"])
            assert killed_state["status"] == "processing"
            # The new worker rescues the job once its heartbeat is stale.
            await asyncio.sleep(services.DEFAULT_STALE_AFTER_S + 2)
            with celery_worker(queues="videos"):
                deadline = time.monotonic() + JOB_TIMEOUT_S
                while time.monotonic() < deadline:
                    final = await asyncio.to_thread(get_job, port, token, job["id"])
                    if final["status"] in ("success", "error"):
                        break
                    await asyncio.sleep(1)
        finally:
            await ws.close()

    assert final["status"] == "success", final
    assert final["attempt"] == 2
    assert final["progress"] == 100

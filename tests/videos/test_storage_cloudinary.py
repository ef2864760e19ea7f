"""Storage backends: Cloudinary against a loopback stand-in of its upload API,
and the local media folder.

The stand-in speaks just enough of https://api.cloudinary.com/v1_1/<cloud>/
<resource_type>/upload for the SDK's chunked `upload_large`: it records every
request and answers like the real API (intermediate chunks, then the asset).
"""

import email.parser
import email.policy
import json
import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cloudinary
import pytest

from videos.pipeline import PipelineError, TransientPipelineError
from videos.storage import CloudinaryStorage, LocalStorage, StoredResult

CLOUD = "demo-cloud"
API_KEY = "123456789012345"
API_SECRET = "s3cr3t-never-sent"


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    file_name: str | None
    file_bytes: bytes


@dataclass
class FakeCloudinary:
    """Records requests; `fail_with` makes every answer that HTTP error."""

    requests: list[RecordedRequest] = field(default_factory=list)
    fail_with: int | None = None
    upload_prefix: str = ""


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], str | None, bytes]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    file_name, file_bytes = None, b""
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        if name == "file":
            file_name, file_bytes = part.get_filename(), payload
        else:
            fields[name] = payload.decode()
    return fields, file_name, file_bytes


def _answer(path: str, headers: dict[str, str], fields: dict[str, str]) -> dict:
    _, cloud, resource_type, _ = path.strip("/").split("/")
    public_id = fields["public_id"]
    first, last, total = _content_range(headers["content-range"])
    if last + 1 < total:
        # What the real API says for a chunk that is not the last one.
        return {"done": False, "public_id": public_id, "bytes": last - first + 1}
    delivery = f"res.cloudinary.com/{cloud}/{resource_type}/upload/v1700000000/{public_id}"
    suffix = ".mp4" if resource_type == "video" else ""
    return {
        "asset_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "public_id": public_id,
        "version": 1700000000,
        "signature": "d41d8cd98f00b204e9800998ecf8427e",
        "resource_type": resource_type,
        "type": "upload",
        "created_at": "2024-01-01T00:00:00Z",
        "bytes": total,
        "url": f"http://{delivery}{suffix}",
        "secure_url": f"https://{delivery}{suffix}",
        "original_filename": fields.get("filename", "file"),
        "done": True,
    }


def _content_range(value: str) -> tuple[int, int, int]:
    unit, _, spec = value.partition(" ")
    assert unit == "bytes"
    span, _, total = spec.partition("/")
    first, _, last = span.partition("-")
    return int(first), int(last), int(total)


@pytest.fixture
def fake_cloudinary():
    state = FakeCloudinary()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fields, file_name, file_bytes = _parse_multipart(self.headers["Content-Type"], body)
            headers = {key.lower(): value for key, value in self.headers.items()}
            state.requests.append(
                RecordedRequest(self.path, headers, fields, file_name, file_bytes)
            )
            if state.fail_with:
                status, answer = state.fail_with, {"error": {"message": "Stand-in refused"}}
            else:
                status, answer = 200, _answer(self.path, headers, fields)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.upload_prefix = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def make_storage(fake: FakeCloudinary, chunk_size: int = 64 * 1024) -> CloudinaryStorage:
    url = f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD}?upload_prefix={fake.upload_prefix}"
    return CloudinaryStorage(url, chunk_size=chunk_size)


@pytest.fixture
def job_files(tmp_path):
    video = tmp_path / "final.mp4"
    video.write_bytes(bytes(range(256)) * 1200)  # 307,200 bytes: five 64 KiB chunks
    vtt = tmp_path / "subtitles.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHéllo\n", encoding="utf-8")
    srt = tmp_path / "subtitles.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHéllo\n", encoding="utf-8")
    return {"video": video, "vtt": vtt, "srt": srt}


def test_video_is_uploaded_in_chunks_to_the_video_endpoint(fake_cloudinary, job_files):
    storage = make_storage(fake_cloudinary)

    storage.save("job-42", {"video": job_files["video"]}, lambda done, total: None)

    size = job_files["video"].stat().st_size
    requests = fake_cloudinary.requests
    assert len(requests) == math.ceil(size / (64 * 1024)) == 5
    assert {r.path for r in requests} == {f"/v1_1/{CLOUD}/video/upload"}
    assert [r.headers["content-range"] for r in requests] == [
        f"bytes {start}-{min(start + 65536, size) - 1}/{size}" for start in range(0, size, 65536)
    ]
    assert len({r.headers["x-unique-upload-id"] for r in requests}) == 1
    assert b"".join(r.file_bytes for r in requests) == job_files["video"].read_bytes()


def test_upload_uses_the_job_public_id_and_overwrites(fake_cloudinary, job_files):
    storage = make_storage(fake_cloudinary)

    storage.save("job-42", {"video": job_files["video"]}, lambda done, total: None)

    for request in fake_cloudinary.requests:
        assert request.fields["public_id"] == "elearning/videos/job-42"
        assert request.fields["overwrite"] == "1"
        assert request.fields["invalidate"] == "1"
        assert request.fields["api_key"] == API_KEY
        assert request.fields["signature"]
        # Our own name, not the work-dir path, is what Cloudinary sees.
        assert request.file_name == "video.mp4"


def test_the_api_secret_never_leaves_the_machine(fake_cloudinary, job_files):
    storage = make_storage(fake_cloudinary)

    storage.save("job-42", job_files, lambda done, total: None)

    for request in fake_cloudinary.requests:
        assert API_SECRET not in json.dumps(request.fields)
        assert API_SECRET not in json.dumps(request.headers)


def test_subtitles_are_raw_files_named_after_the_job(fake_cloudinary, job_files):
    storage = make_storage(fake_cloudinary)

    result = storage.save("job-42", job_files, lambda done, total: None)

    raw = [r for r in fake_cloudinary.requests if r.path == f"/v1_1/{CLOUD}/raw/upload"]
    assert [r.fields["public_id"] for r in raw] == [
        "elearning/videos/job-42.vtt",
        "elearning/videos/job-42.srt",
    ]
    assert raw[0].file_bytes == job_files["vtt"].read_bytes()
    assert result == StoredResult(
        video_url=f"https://res.cloudinary.com/{CLOUD}/video/upload/v1700000000/elearning/videos/job-42.mp4",
        vtt_url=f"https://res.cloudinary.com/{CLOUD}/raw/upload/v1700000000/elearning/videos/job-42.vtt",
        srt_url=f"https://res.cloudinary.com/{CLOUD}/raw/upload/v1700000000/elearning/videos/job-42.srt",
        public_id="elearning/videos/job-42",
    )


def test_progress_counts_bytes_up_to_the_total(fake_cloudinary, job_files):
    storage = make_storage(fake_cloudinary)
    calls: list[tuple[int, int]] = []

    storage.save("job-42", job_files, lambda done, total: calls.append((done, total)))

    total = sum(path.stat().st_size for path in job_files.values())
    assert {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert done[0] == 0
    assert done[-1] == total
    assert len(set(done)) >= 6  # five video chunks and the two subtitle files


def test_a_retry_sends_the_same_public_id_again(fake_cloudinary, job_files):
    storage = make_storage(fake_cloudinary)

    storage.save("job-42", {"video": job_files["video"]}, lambda done, total: None)
    storage.save("job-42", {"video": job_files["video"]}, lambda done, total: None)

    assert {r.fields["public_id"] for r in fake_cloudinary.requests} == {"elearning/videos/job-42"}
    assert len({r.headers["x-unique-upload-id"] for r in fake_cloudinary.requests}) == 2


def test_storage_does_not_touch_the_sdk_global_config(fake_cloudinary, job_files):
    before = dict(vars(cloudinary.config()))

    make_storage(fake_cloudinary).save("job-42", job_files, lambda done, total: None)

    assert dict(vars(cloudinary.config())) == before


def test_server_errors_are_transient(fake_cloudinary, job_files):
    fake_cloudinary.fail_with = 500

    with pytest.raises(TransientPipelineError) as caught:
        make_storage(fake_cloudinary).save("job-42", job_files, lambda done, total: None)

    assert caught.value.permanent is False
    assert "Stand-in refused" in caught.value.message


def test_refused_credentials_are_permanent(fake_cloudinary, job_files):
    fake_cloudinary.fail_with = 401

    with pytest.raises(PipelineError) as caught:
        make_storage(fake_cloudinary).save("job-42", job_files, lambda done, total: None)

    assert caught.value.permanent is True
    assert caught.value.message == "Cloudinary refused the upload: Stand-in refused"


@pytest.mark.parametrize(
    "url",
    [
        "https://key:secret@cloud",
        "cloudinary://key@cloud",
        "cloudinary://key:secret@",
    ],
)
def test_malformed_cloudinary_url_is_rejected(url):
    with pytest.raises(ValueError):
        CloudinaryStorage(url)


def test_cloud_name_keeps_its_case(fake_cloudinary, job_files):
    url = f"cloudinary://{API_KEY}:{API_SECRET}@MixedCase?upload_prefix={fake_cloudinary.upload_prefix}"

    CloudinaryStorage(url).save("job-42", job_files, lambda done, total: None)

    assert fake_cloudinary.requests[0].path == "/v1_1/MixedCase/video/upload"


# --- local media folder -------------------------------------------------------


def test_local_storage_copies_into_the_job_folder(tmp_path, job_files):
    media_root = tmp_path / "media"
    calls: list[tuple[int, int]] = []

    result = LocalStorage(media_root, "/media/").save(
        "job-42", job_files, lambda done, total: calls.append((done, total))
    )

    folder = media_root / "videos" / "job-42"
    assert sorted(p.name for p in folder.iterdir()) == [
        "subtitles.srt",
        "subtitles.vtt",
        "video.mp4",
    ]
    assert (folder / "video.mp4").read_bytes() == job_files["video"].read_bytes()
    assert result == StoredResult(
        video_url="/media/videos/job-42/video.mp4",
        vtt_url="/media/videos/job-42/subtitles.vtt",
        srt_url="/media/videos/job-42/subtitles.srt",
        public_id="videos/job-42",
    )
    total = sum(path.stat().st_size for path in job_files.values())
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)


def test_local_storage_without_subtitles_has_no_subtitle_urls(tmp_path, job_files):
    result = LocalStorage(tmp_path, "https://cdn.example/media").save(
        "job-7", {"video": job_files["video"]}, lambda done, total: None
    )

    assert result.video_url == "https://cdn.example/media/videos/job-7/video.mp4"
    assert result.vtt_url is None
    assert result.srt_url is None


def test_local_storage_retry_replaces_the_earlier_copy(tmp_path, job_files):
    storage = LocalStorage(tmp_path, "/media/")
    storage.save("job-42", {"video": job_files["video"]}, lambda done, total: None)
    job_files["video"].write_bytes(b"second attempt")

    storage.save("job-42", {"video": job_files["video"]}, lambda done, total: None)

    folder = tmp_path / "videos" / "job-42"
    assert (folder / "video.mp4").read_bytes() == b"second attempt"
    assert [p.name for p in folder.iterdir()] == ["video.mp4"]


@pytest.mark.parametrize("job_id", ["../escape", "a/b", "", "x" * 65, "job 1"])
def test_job_ids_that_could_leave_the_folder_are_refused(tmp_path, job_files, job_id):
    with pytest.raises(ValueError):
        LocalStorage(tmp_path, "/media/").save(job_id, job_files, lambda done, total: None)
    assert not (tmp_path / "videos").exists()


def test_a_video_is_required_and_unknown_kinds_are_refused(tmp_path, job_files):
    storage = LocalStorage(tmp_path, "/media/")

    with pytest.raises(ValueError):
        storage.save("job-1", {"vtt": job_files["vtt"]}, lambda done, total: None)
    with pytest.raises(ValueError):
        storage.save("job-1", {**job_files, "poster": job_files["vtt"]}, lambda done, total: None)

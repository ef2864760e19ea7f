"""Where finished videos and subtitles go: the local media folder or Cloudinary.

Pure Python, no Django: the task passes MEDIA_ROOT/MEDIA_URL or the
CLOUDINARY_URL in. Both backends are idempotent per job id, so a retried
upload replaces the earlier one instead of adding a copy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import cloudinary.exceptions
import cloudinary.uploader

from videos.pipeline import PipelineError, TransientPipelineError

BytesCallback = Callable[[int, int], None]
"""Receives (bytes_done, bytes_total) over all files of one save."""

FILE_KINDS = ("video", "vtt", "srt")
_FILE_NAMES = {"video": "video.mp4", "vtt": "subtitles.vtt", "srt": "subtitles.srt"}
# Job ids become folder names and public ids: nothing that could climb a path.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COPY_CHUNK_BYTES = 1024 * 1024
DEFAULT_CHUNK_SIZE = 20_000_000  # Cloudinary's own default; chunks must be >= 5 MB


@dataclass(frozen=True)
class StoredResult:
    """Public URLs of what was saved; subtitle URLs are None when none were given."""

    video_url: str
    vtt_url: str | None
    srt_url: str | None
    public_id: str


class Storage(Protocol):
    def save(
        self, job_id: str, files: Mapping[str, Path], on_progress: BytesCallback
    ) -> StoredResult:
        """Store `files` ("video" required, "vtt" and "srt" optional) for `job_id`."""
        ...


class LocalStorage:
    """Copies files to `media_root/videos/<job_id>/`, served under `media_url`."""

    def __init__(self, media_root: Path, media_url: str) -> None:
        self.media_root = media_root
        self.media_url = media_url if media_url.endswith("/") else media_url + "/"

    def save(
        self, job_id: str, files: Mapping[str, Path], on_progress: BytesCallback
    ) -> StoredResult:
        """Copy `files` in 1 MiB chunks, reporting bytes after each chunk.

        Side effects: creates the job folder; each file appears under its
        final name only when complete, replacing an earlier copy.
        """
        _check_request(job_id, files)
        folder = self.media_root / "videos" / job_id
        folder.mkdir(parents=True, exist_ok=True)
        counter = _ByteCounter(files, on_progress)
        urls: dict[str, str] = {}
        for kind in _kinds_in(files):
            _copy_file(files[kind], folder / _FILE_NAMES[kind], counter)
            urls[kind] = f"{self.media_url}videos/{job_id}/{_FILE_NAMES[kind]}"
        return StoredResult(
            video_url=urls["video"],
            vtt_url=urls.get("vtt"),
            srt_url=urls.get("srt"),
            public_id=f"videos/{job_id}",
        )


class CloudinaryStorage:
    """Uploads to Cloudinary in chunks under `<folder>/<job_id>`.

    The credentials go with each call rather than into `cloudinary.config()`,
    so this object leaves the SDK's process-wide settings alone.
    """

    def __init__(
        self,
        cloudinary_url: str,
        *,
        folder: str = "elearning/videos",
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout_s: float = 120.0,
    ) -> None:
        self.folder = folder.strip("/")
        self.chunk_size = chunk_size
        self.timeout_s = timeout_s
        self._account = _parse_cloudinary_url(cloudinary_url)

    def public_id(self, job_id: str) -> str:
        return f"{self.folder}/{job_id}"

    def save(
        self, job_id: str, files: Mapping[str, Path], on_progress: BytesCallback
    ) -> StoredResult:
        """Upload the video (resource type "video") and subtitles ("raw").

        Public ids are fixed by the job id and uploads overwrite, so a retry
        replaces rather than duplicates. Side effects: network uploads.
        Raises TransientPipelineError for network and server errors,
        PipelineError(permanent=True) when Cloudinary refuses the request.
        """
        _check_request(job_id, files)
        public_id = self.public_id(job_id)
        counter = _ByteCounter(files, on_progress)
        urls: dict[str, str] = {}
        for kind in _kinds_in(files):
            is_video = kind == "video"
            urls[kind] = self._upload(
                files[kind],
                # Raw files keep their extension in the public id; Cloudinary
                # serves them by exactly that name.
                public_id=public_id if is_video else f"{public_id}.{kind}",
                resource_type="video" if is_video else "raw",
                filename=_FILE_NAMES[kind],
                counter=counter,
            )
        return StoredResult(
            video_url=urls["video"],
            vtt_url=urls.get("vtt"),
            srt_url=urls.get("srt"),
            public_id=public_id,
        )

    def _upload(
        self,
        path: Path,
        *,
        public_id: str,
        resource_type: str,
        filename: str,
        counter: _ByteCounter,
    ) -> str:
        try:
            with path.open("rb") as raw:
                response = cloudinary.uploader.upload_large(
                    _CountingReader(raw, counter),
                    public_id=public_id,
                    resource_type=resource_type,
                    overwrite=True,
                    invalidate=True,
                    # Our own name, not the work-dir path, goes to Cloudinary.
                    filename=filename,
                    chunk_size=self.chunk_size,
                    timeout=self.timeout_s,
                    **self._account,
                )
        except (
            cloudinary.exceptions.BadRequest,
            cloudinary.exceptions.AuthorizationRequired,
            cloudinary.exceptions.NotAllowed,
        ) as error:
            message = f"Cloudinary refused the upload: {error}"
            raise PipelineError(message, permanent=True) from error
        except cloudinary.exceptions.Error as error:
            raise TransientPipelineError(f"The upload to Cloudinary failed: {error}") from error
        return str(response["secure_url"])


def _parse_cloudinary_url(url: str) -> dict[str, str]:
    """Split `cloudinary://key:secret@cloud?upload_prefix=...` into call options."""
    parts = urlsplit(url)
    # netloc, not hostname: hostname would lower-case the cloud name.
    cloud_name = parts.netloc.rpartition("@")[2]
    if parts.scheme != "cloudinary" or not (parts.username and parts.password and cloud_name):
        raise ValueError("expected cloudinary://<api_key>:<api_secret>@<cloud_name>")
    account = {
        "cloud_name": cloud_name,
        "api_key": unquote(parts.username),
        "api_secret": unquote(parts.password),
    }
    upload_prefix = parse_qs(parts.query).get("upload_prefix")
    if upload_prefix:
        account["upload_prefix"] = upload_prefix[0]
    return account


def _check_request(job_id: str, files: Mapping[str, Path]) -> None:
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"job id {job_id!r} must match {_JOB_ID.pattern}")
    if "video" not in files or not set(files) <= set(FILE_KINDS):
        raise ValueError(f"files must have a 'video' and only keys from {FILE_KINDS}")


def _kinds_in(files: Mapping[str, Path]) -> list[str]:
    """The kinds present, video first: the video is what a viewer waits for."""
    return [kind for kind in FILE_KINDS if kind in files]


class _ByteCounter:
    """Adds up bytes over several files and reports the running total."""

    def __init__(self, files: Mapping[str, Path], on_progress: BytesCallback) -> None:
        self.total = sum(path.stat().st_size for path in files.values())
        self.done = 0
        self._on_progress = on_progress
        on_progress(0, self.total)

    def add(self, count: int) -> None:
        if count:
            self.done += count
            self._on_progress(self.done, self.total)


class _CountingReader:
    """A read-only file object that counts what the SDK reads from it.

    The Cloudinary SDK reads one chunk per request, so bytes read are bytes
    about to be sent; it also seeks to measure the size, which is not counted.
    """

    def __init__(self, raw: BinaryIO, counter: _ByteCounter) -> None:
        self._raw = raw
        self._counter = counter
        self.name = raw.name

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._counter.add(len(data))
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _copy_file(src: Path, dst: Path, counter: _ByteCounter) -> None:
    tmp = dst.with_name(f"{dst.name}.part")
    try:
        with src.open("rb") as source, tmp.open("wb") as target:
            while chunk := source.read(_COPY_CHUNK_BYTES):
                target.write(chunk)
                counter.add(len(chunk))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)

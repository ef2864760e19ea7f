from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def video_env(settings: Any, tmp_path: Path) -> Iterator[Any]:
    """Media in a temporary folder for tests that start real web and worker processes."""
    settings.MEDIA_ROOT = tmp_path / "media"  # the children get it through child_env
    yield settings
    # The uploads land in the children's VIDEO_UPLOAD_DIR (var/uploads): remove ours.
    from videos.models import VideoJob

    for job in VideoJob.objects.all():
        shutil.rmtree(Path(job.source).parent, ignore_errors=True)
        shutil.rmtree(Path(settings.VIDEO_WORK_DIR) / str(job.pk), ignore_errors=True)

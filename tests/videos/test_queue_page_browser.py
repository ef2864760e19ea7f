"""The video queue page in a real browser: Debian's Chromium driven by Playwright.

An instructor logs in with the form, uploads the speech fixture under a name full of
HTML, and watches the job go 0 → 100 live over the page's websocket; a reload in the
middle shows the same job, not an empty queue; the end brings a toast, the counts and
links to the video and its subtitles. Nothing the user typed is ever run as HTML.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_user
from tests.processes import celery_worker, web_server

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
LECTURE = Path(__file__).resolve().parents[1] / "fixtures" / "lecture.mp4"
# No double quotes: Chromium sends those as %22 in a multipart file name (HTML spec).
HOSTILE_NAME = "<img src=x onerror=window.__injected=1>lecture.mp4"
JOB_TIMEOUT_MS = 240_000
# Chromium as the machine allows it: root, no GPU, and no calls to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# Samples the progress bar every 20 ms into window.__progress, so the test sees the
# values the user saw, not just the last one.
RECORD_PROGRESS = """
window.__progress = [];
setInterval(() => {
  const bar = document.querySelector("#jobs [role=progressbar]");
  if (!bar) return;
  const value = Number(bar.getAttribute("aria-valuenow"));
  const seen = window.__progress;
  if (seen.length === 0 || seen[seen.length - 1] !== value) seen.push(value);
}, 20);
"""


@pytest.fixture
def instructor_login(db: None) -> tuple[str, str]:
    user = make_user("browser-instructor", "instructor")
    return user.username, "pw-browser-instructor"


@pytest.fixture
def chromium() -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread, where Django's ORM then
    # refuses to work: database set-up belongs in fixtures requested before this one.
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def test_instructor_watches_an_upload_go_live_to_100_and_survives_a_reload(
    video_env: Any, instructor_login: tuple[str, str], chromium: Any
) -> None:
    # Given an instructor, a web server and a video worker
    username, password = instructor_login
    with web_server() as (port, _), celery_worker(queues="videos"):
        base = f"http://127.0.0.1:{port}"
        page = chromium.new_page()
        page.add_init_script(RECORD_PROGRESS)
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

        # When they log in with the form and open the queue
        page.goto(f"{base}/accounts/login/?next=/videos/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/videos/")
        page.wait_for_function("document.getElementById('connection').textContent === 'Live'")
        assert page.text_content("#no-jobs") == "No videos yet."

        # And upload a lecture whose name is HTML
        page.set_input_files(
            "input[name=file]",
            {"name": HOSTILE_NAME, "mimeType": "video/mp4", "buffer": LECTURE.read_bytes()},
        )
        page.click("#upload-form button[type=submit]")
        page.wait_for_function(
            "Number(document.querySelector('#jobs [role=progressbar]')"
            "?.getAttribute('aria-valuenow')) > 0",
            timeout=JOB_TIMEOUT_MS,
        )
        before_reload = page.evaluate("window.__progress.slice()")

        # And reload the page while the job is running
        page.reload()
        page.wait_for_function("document.getElementById('connection').textContent === 'Live'")
        first_after_reload = int(
            page.get_attribute("#jobs [role=progressbar]", "aria-valuenow") or "-1"
        )

        # Then the job is still there, as far along as before, and goes on to 100 live
        assert before_reload[-1] <= first_after_reload < 100
        page.wait_for_selector("#jobs .job.success", timeout=JOB_TIMEOUT_MS)
        after_reload = page.evaluate("window.__progress.slice()")
        seen = before_reload + after_reload
        assert before_reload[0] < 100, seen  # the first page saw the job running
        assert after_reload == sorted(after_reload), after_reload
        assert after_reload[-1] == 100
        assert len(set(seen)) >= 4, seen

        # With the toast, the counts and the links the user came for
        assert page.text_content("#toasts") == f"Processed: {HOSTILE_NAME}"
        counts = {
            key: page.text_content(f'[data-count="{key}"]')
            for key in ("processing", "done", "failed")
        }
        assert counts == {"processing": "0", "done": "1", "failed": "0"}
        assert page.text_content("#jobs .job strong") == HOSTILE_NAME
        links = page.eval_on_selector_all(
            "#jobs .job .links a",
            "links => links.map(a => [a.textContent, a.getAttribute('href')])",
        )
        assert [label for label, _ in links] == [
            "Watch the video",
            "Subtitles (VTT)",
            "Subtitles (SRT)",
        ]
        vtt_url = links[1][1]
        vtt = page.request.get(f"{base}{vtt_url}" if vtt_url.startswith("/") else vtt_url)
        assert vtt.status == 200
        assert vtt.text().startswith("WEBVTT")
        assert "photosynthesis" in vtt.text().lower()

        # And the name was shown as text, never run as HTML
        assert page.evaluate("window.__injected") is None
        assert page.query_selector("#jobs img") is None
        assert dialogs == []
        page.close()

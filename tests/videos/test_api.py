"""REST contract of the video queue (DESIGN.md §5) and the server-rendered queue page."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from realtime.models import KeptEvent
from tests.conftest import api_client, make_user
from videos import services
from videos.events import JOB_PAYLOAD_KEYS
from videos.models import VideoJob, empty_result


@pytest.fixture(autouse=True)
def video_dirs(settings, tmp_path):
    settings.VIDEO_UPLOAD_DIR = tmp_path / "uploads"
    settings.VIDEO_WORK_DIR = tmp_path / "work"
    return settings


def video_file(content=b"\x00\x00\x00\x18ftypmp42 fake", name="Week 1 <intro>.mp4"):
    return SimpleUploadedFile(name, content, content_type="video/mp4")


def post(user, **data):
    data.setdefault("file", video_file())
    data.setdefault("upload_type", "content")
    data = {key: value for key, value in data.items() if value is not None}
    return api_client(user).post("/api/videos/", data, format="multipart")


def test_upload_answers_202_with_the_job(instructor, course):
    response = post(instructor, course_id=course.pk, content_index=3, burn_subtitles="true")

    assert response.status_code == 202
    body = response.json()
    assert tuple(body) == JOB_PAYLOAD_KEYS
    job = VideoJob.objects.get()
    assert body == {
        "id": str(job.pk),
        "file_name": "Week 1 <intro>.mp4",
        "upload_type": "content",
        "content_index": 3,
        "status": "pending",
        "stage": "queued",
        "progress": 0,
        "message": "Waiting for a worker",
        "result": empty_result(),
        "attempt": 0,
        "updated_at": body["updated_at"],
    }
    assert job.burn_subtitles is True
    assert job.course_id == course.pk


def test_the_event_carries_the_same_job_as_the_api(instructor):
    body = post(instructor).json()

    [text] = KeptEvent.objects.filter(user=instructor).values_list("text", flat=True)
    event = json.loads(text)
    assert event["type"] == "video.progress"
    assert event["data"] == body
    assert api_client(instructor).get(f"/api/videos/{body['id']}/").json() == body


@pytest.mark.parametrize(
    ("data", "status", "code", "detail"),
    [
        ({"file": None}, 400, "file_required", "No file was uploaded (field 'file')."),
        ({"file": video_file(b"")}, 400, "file_empty", "The file is empty."),
        (
            {"upload_type": "lecture"},
            400,
            "invalid_upload_type",
            "upload_type must be 'demo' or 'content'.",
        ),
        (
            {"upload_type": None},
            400,
            "invalid_upload_type",
            "upload_type must be 'demo' or 'content'.",
        ),
        ({"course_id": 99999}, 404, "not_found", "No such course."),
        (
            {"content_index": -1},
            400,
            "min_value",
            "content_index: Ensure this value is greater than or equal to 0.",
        ),
    ],
)
def test_bad_uploads_get_a_clear_error_and_create_nothing(instructor, data, status, code, detail):
    response = post(instructor, **data)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["detail"] == detail
    assert VideoJob.objects.count() == 0
    assert KeptEvent.objects.count() == 0


def test_upload_to_another_instructors_course_is_not_found(course):
    other = make_user("other-instructor", "instructor")

    response = post(other, course_id=course.pk)

    assert response.status_code == 404
    assert response.json() == {"detail": "No such course.", "code": "not_found"}
    assert VideoJob.objects.count() == 0


def test_an_oversized_upload_is_413(instructor, settings):
    settings.VIDEO_MAX_UPLOAD_BYTES = 8

    response = post(instructor)

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The file is larger than the 8 bytes limit.",
        "code": "file_too_large",
    }
    assert VideoJob.objects.count() == 0


def test_students_cannot_upload(student):
    response = post(student)

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only instructors and admins can upload videos.",
        "code": "permission_denied",
    }
    assert VideoJob.objects.count() == 0


def test_anonymous_requests_are_refused():
    assert api_client().get("/api/videos/").status_code == 401
    assert api_client().post("/api/videos/", {}, format="multipart").status_code == 401


def test_list_shows_own_jobs_and_admins_see_all(instructor, admin_user, student):
    other = make_user("other-instructor", "instructor")
    mine = post(instructor).json()
    theirs = post(other).json()

    assert [job["id"] for job in api_client(instructor).get("/api/videos/").json()] == [mine["id"]]
    assert {job["id"] for job in api_client(admin_user).get("/api/videos/").json()} == {
        mine["id"],
        theirs["id"],
    }
    assert api_client(student).get("/api/videos/").json() == []


def test_someone_elses_job_is_not_found(instructor, admin_user):
    other = make_user("other-instructor", "instructor")
    job_id = post(instructor).json()["id"]

    assert api_client(other).get(f"/api/videos/{job_id}/").status_code == 404
    assert api_client(other).post(f"/api/videos/{job_id}/reprocess/").status_code == 404
    assert api_client(admin_user).get(f"/api/videos/{job_id}/").status_code == 200
    assert api_client(instructor).get("/api/videos/not-a-uuid/").status_code == 404


def test_reprocess_answers_202_for_a_finished_job_and_409_while_active(instructor):
    job_id = post(instructor).json()["id"]

    busy = api_client(instructor).post(f"/api/videos/{job_id}/reprocess/")
    services.claim_job(job_id, worker="w1")
    services.fail_job(job_id, message="The file is not a video we can read.")
    again = api_client(instructor).post(f"/api/videos/{job_id}/reprocess/")

    assert busy.status_code == 409
    assert busy.json() == {"detail": "The job is still being processed.", "code": "job_active"}
    assert again.status_code == 202
    assert (again.json()["status"], again.json()["progress"], again.json()["attempt"]) == (
        "pending",
        0,
        0,
    )
    assert VideoJob.objects.get().run == 2


# --- the page -------------------------------------------------------------------------


def test_queue_page_renders_jobs_as_escaped_json(instructor):
    post(instructor, file=video_file(name="<img src=x onerror=alert(1)>.mp4"))
    client = Client()
    client.force_login(instructor)

    response = client.get("/videos/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<img src=x" not in html
    assert "\\u003Cimg src=x onerror=alert(1)\\u003E.mp4" in html
    assert 'id="initial-jobs"' in html
    assert "js/realtime.js" in html and "js/video_queue.js" in html
    assert 'data-since-seq="1"' in html


def test_queue_page_is_for_instructors_and_admins(student):
    anonymous = Client().get("/videos/")
    client = Client()
    client.force_login(student)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert client.get("/videos/").status_code == 403

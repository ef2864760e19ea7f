"""Purchase, comments and reviews over REST: statuses, error shapes, refusals."""

from __future__ import annotations

import pytest

from courses.models import Comment, Course, Purchase, Review
from notifications.models import Notification
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def url(course_id: int, what: str) -> str:
    return f"/api/courses/{course_id}/{what}/"


def test_purchase_is_created_then_idempotent(student, instructor, course):
    first = api_client(student).post(url(course.pk, "purchase"))
    again = api_client(student).post(url(course.pk, "purchase"))
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["course_id"] == course.pk
    assert first.json()["user_id"] == student.pk
    assert Purchase.objects.count() == 1
    assert Notification.objects.filter(recipient=instructor).count() == 1


def test_purchase_refusals(student, instructor, course):
    assert api_client().post(url(course.pk, "purchase")).status_code == 401
    missing = api_client(student).post(url(999_999, "purchase"))
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    own = api_client(instructor).post(url(course.pk, "purchase"))
    assert own.status_code == 403
    assert own.json() == {
        "detail": "You teach this course; you cannot buy it.",
        "code": "own_course",
    }
    Course.objects.filter(pk=course.pk).update(is_published=False)
    assert api_client(student).post(url(course.pk, "purchase")).status_code == 404
    assert not Purchase.objects.exists()


def test_comments_are_listed_and_posted_by_buyers(student, outsider, course):
    Purchase.objects.create(user=student, course=course)
    body = "<script>alert(1)</script>"
    posted = api_client(student).post(url(course.pk, "comments"), {"body": body}, format="json")
    assert posted.status_code == 201
    reply = api_client(student).post(
        url(course.pk, "comments"),
        {"body": "  and more  ", "parent_id": posted.json()["id"]},
        format="json",
    )
    assert reply.status_code == 201
    listed = api_client(outsider).get(url(course.pk, "comments"))
    assert listed.status_code == 200
    assert [(c["body"], c["parent_id"]) for c in listed.json()] == [
        (body, None),
        ("  and more  ", posted.json()["id"]),
    ]


def test_comment_refusals(student, outsider, course):
    refused = api_client(outsider).post(url(course.pk, "comments"), {"body": "hi"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "purchase_required"
    Purchase.objects.create(user=student, course=course)
    empty = api_client(student).post(url(course.pk, "comments"), {"body": ""}, format="json")
    assert empty.status_code == 400
    bad_parent = api_client(student).post(
        url(course.pk, "comments"), {"body": "x", "parent_id": 999_999}, format="json"
    )
    assert (bad_parent.status_code, bad_parent.json()["code"]) == (400, "invalid_parent")
    Course.objects.filter(pk=course.pk).update(is_published=False)
    assert api_client(outsider).get(url(course.pk, "comments")).status_code == 404
    assert not Comment.objects.exists()


def test_reviews_post_then_update(student, outsider, course):
    Purchase.objects.create(user=student, course=course)
    first = api_client(student).post(
        url(course.pk, "reviews"), {"rating": 4, "body": "good"}, format="json"
    )
    again = api_client(student).post(url(course.pk, "reviews"), {"rating": 2}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    listed = api_client(outsider).get(url(course.pk, "reviews")).json()
    assert [(r["rating"], r["body"]) for r in listed] == [(2, "")]
    detail = api_client(outsider).get(f"/api/courses/{course.pk}/").json()
    assert (detail["rating_average"], detail["rating_count"]) == (2.0, 1)


def test_review_refusals(student, outsider, course):
    refused = api_client(outsider).post(url(course.pk, "reviews"), {"rating": 5}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "purchase_required")
    Purchase.objects.create(user=student, course=course)
    for bad in ({"rating": 6}, {"rating": 0}, {"body": "no rating"}, {"rating": "five"}):
        response = api_client(student).post(url(course.pk, "reviews"), bad, format="json")
        assert response.status_code == 400, bad
    assert not Review.objects.exists()


def test_api_urls_that_match_no_route_answer_in_the_api_error_shape(student, course):
    for path in ("/api/courses/abc/purchase/", "/api/videos/not-a-uuid/", "/api/nothing/"):
        response = (
            api_client(student).post(path) if "purchase" in path else api_client(student).get(path)
        )
        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), path
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    page = api_client(student).get("/no-such-page/")
    assert (page.status_code, page["Content-Type"].split(";")[0]) == (404, "text/html")
    assert Purchase.objects.count() == 0

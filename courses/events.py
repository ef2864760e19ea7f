"""Typed payloads of the course events (DESIGN.md §6); REST answers use the same shapes.

- ``course.purchased`` (kept, to every admin): ``PurchaseData``
- ``course.comment.created`` (ephemeral, to ``course.<id>``): ``{"comment": CommentData}``
- ``course.review.created`` (ephemeral, to ``course.<id>``): ``{"review": ReviewData,
  "updated": bool, "rating_average": float | None, "rating_count": int}``
"""

from __future__ import annotations

from typing import Final, TypedDict

from .models import Comment, Purchase, Review

COURSE_PURCHASED: Final = "course.purchased"
COURSE_COMMENT_CREATED: Final = "course.comment.created"
COURSE_REVIEW_CREATED: Final = "course.review.created"


class PurchaseData(TypedDict):
    id: int
    course_id: int
    course_title: str
    user_id: int
    username: str
    price_cents: int
    created_at: str


class CommentData(TypedDict):
    id: int
    course_id: int
    parent_id: int | None
    author_id: int
    author_name: str
    body: str
    created_at: str


class CommentCreatedData(TypedDict):
    comment: CommentData


class ReviewData(TypedDict):
    id: int
    course_id: int
    user_id: int
    username: str
    rating: int
    body: str
    created_at: str
    updated_at: str


class ReviewCreatedData(TypedDict):
    review: ReviewData
    updated: bool
    rating_average: float | None
    rating_count: int


def purchase_data(purchase: Purchase) -> PurchaseData:
    return {
        "id": purchase.pk,
        "course_id": purchase.course_id,
        "course_title": purchase.course.title,
        "user_id": purchase.user_id,
        "username": purchase.user.username,
        "price_cents": purchase.course.price_cents,
        "created_at": purchase.created_at.isoformat(),
    }


def comment_data(comment: Comment) -> CommentData:
    return {
        "id": comment.pk,
        "course_id": comment.course_id,
        "parent_id": comment.parent_id,
        "author_id": comment.author_id,
        "author_name": comment.author.username,
        "body": comment.body,
        "created_at": comment.created_at.isoformat(),
    }


def comment_created(comment: Comment) -> CommentCreatedData:
    return {"comment": comment_data(comment)}


def review_data(review: Review) -> ReviewData:
    return {
        "id": review.pk,
        "course_id": review.course_id,
        "user_id": review.user_id,
        "username": review.user.username,
        "rating": review.rating,
        "body": review.body,
        "created_at": review.created_at.isoformat(),
        "updated_at": review.updated_at.isoformat(),
    }


def review_created(
    review: Review, *, updated: bool, rating_average: float | None, rating_count: int
) -> ReviewCreatedData:
    return {
        "review": review_data(review),
        "updated": updated,
        "rating_average": rating_average,
        "rating_count": rating_count,
    }

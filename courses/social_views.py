"""Purchases, comments and reviews over REST (DESIGN.md §5). Thin: parse, call a service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from . import events, services
from .permissions import get_course_for_user
from .selectors import course_comments, course_reviews


class _Refused(exceptions.APIException):
    def __init__(self, error: services.CourseActionError) -> None:
        super().__init__(error.message, error.code)
        self.status_code = error.status


class CommentInput(serializers.Serializer[dict[str, Any]]):
    # Stored as given: no trimming; escaping is the job of whoever shows it.
    body = serializers.CharField(max_length=services.BODY_MAX, trim_whitespace=False)
    parent_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class ReviewInput(serializers.Serializer[dict[str, Any]]):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    body = serializers.CharField(
        max_length=services.BODY_MAX, allow_blank=True, required=False, trim_whitespace=False
    )


_purchase_out = inline_serializer(
    "Purchase",
    {
        "id": serializers.IntegerField(),
        "course_id": serializers.IntegerField(),
        "course_title": serializers.CharField(),
        "user_id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "price_cents": serializers.IntegerField(),
        "created_at": serializers.CharField(),
    },
)
_comment_out = inline_serializer(
    "Comment",
    {
        "id": serializers.IntegerField(),
        "course_id": serializers.IntegerField(),
        "parent_id": serializers.IntegerField(allow_null=True),
        "author_id": serializers.IntegerField(),
        "author_name": serializers.CharField(),
        "body": serializers.CharField(),
        "created_at": serializers.CharField(),
    },
)
_review_out = inline_serializer(
    "Review",
    {
        "id": serializers.IntegerField(),
        "course_id": serializers.IntegerField(),
        "user_id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "rating": serializers.IntegerField(),
        "body": serializers.CharField(),
        "created_at": serializers.CharField(),
        "updated_at": serializers.CharField(),
    },
)


@extend_schema(request=None, responses={200: _purchase_out, 201: _purchase_out})
@api_view(["POST"])
def purchase(request: Request, course_id: int) -> Response:
    try:
        result = services.purchase_course(actor=request.user, course_id=course_id)  # type: ignore[arg-type]
    except services.CourseActionError as error:
        raise _Refused(error) from None
    return Response(
        events.purchase_data(result.purchase),
        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


@extend_schema(methods=["GET"], responses=_comment_out)
@extend_schema(methods=["POST"], request=CommentInput, responses={201: _comment_out})
@api_view(["GET", "POST"])
def comments(request: Request, course_id: int) -> Response:
    if request.method == "GET":
        course = get_course_for_user(request.user, course_id)  # type: ignore[arg-type]
        return Response([events.comment_data(c) for c in course_comments(course)])
    data = CommentInput(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        comment = services.post_comment(
            actor=request.user,  # type: ignore[arg-type]
            course_id=course_id,
            body=data.validated_data["body"],
            parent_id=data.validated_data.get("parent_id"),
        )
    except services.CourseActionError as error:
        raise _Refused(error) from None
    return Response(events.comment_data(comment), status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses=_review_out)
@extend_schema(
    methods=["POST"], request=ReviewInput, responses={200: _review_out, 201: _review_out}
)
@api_view(["GET", "POST"])
def reviews(request: Request, course_id: int) -> Response:
    if request.method == "GET":
        course = get_course_for_user(request.user, course_id)  # type: ignore[arg-type]
        return Response([events.review_data(r) for r in course_reviews(course)])
    data = ReviewInput(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        result = services.post_review(
            actor=request.user,  # type: ignore[arg-type]
            course_id=course_id,
            rating=data.validated_data["rating"],
            body=data.validated_data.get("body", ""),
        )
    except services.CourseActionError as error:
        raise _Refused(error) from None
    return Response(
        events.review_data(result.review),
        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )

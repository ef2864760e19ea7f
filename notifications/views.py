"""Notifications over REST (DESIGN.md §5). Thin: parse, call a service or a selector."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from . import events, services
from .models import Audience
from .permissions import can_announce
from .selectors import notifications_for, unread_count


class NotificationPagination(CursorPagination):
    # Cursor on the id: new rows arriving while a client pages never shift a page.
    ordering = "-id"
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


_notification_out = inline_serializer(
    "Notification",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.CharField(),
        "title": serializers.CharField(),
        "body": serializers.CharField(),
        "payload": serializers.DictField(),
        "is_read": serializers.BooleanField(),
        "created_at": serializers.CharField(),
    },
)
_count_out = inline_serializer("UnreadCount", {"unread_count": serializers.IntegerField()})


class AnnounceInput(serializers.Serializer[dict[str, Any]]):
    audience = serializers.ChoiceField(choices=Audience.choices, default=Audience.EVERYONE)
    title = serializers.CharField(max_length=200, trim_whitespace=False)
    body = serializers.CharField(
        max_length=4000, allow_blank=True, required=False, trim_whitespace=False
    )


def _user_id(request: Request) -> int:
    # IsAuthenticated (the default permission) has run: the user has a primary key.
    return int(request.user.pk)  # type: ignore[arg-type]


def _is_true(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


@extend_schema(
    parameters=[OpenApiParameter("unread", bool), OpenApiParameter("cursor", str)],
    responses=_notification_out,
)
@api_view(["GET"])
def notification_list(request: Request) -> Response:
    rows = notifications_for(
        _user_id(request), unread_only=_is_true(request.query_params.get("unread"))
    )
    paginator = NotificationPagination()
    page = paginator.paginate_queryset(rows, request)
    assert page is not None
    return paginator.get_paginated_response([events.notification_data(n) for n in page])


@extend_schema(responses=_count_out)
@api_view(["GET"])
def notification_unread_count(request: Request) -> Response:
    return Response({"unread_count": unread_count(_user_id(request))})


@extend_schema(request=None, responses=_count_out)
@api_view(["POST"])
def notification_read(request: Request, notification_id: int) -> Response:
    count = services.mark_read(actor=request.user, notification_id=notification_id)  # type: ignore[arg-type]
    return Response({"unread_count": count})


@extend_schema(request=None, responses=_count_out)
@api_view(["POST"])
def notification_read_all(request: Request) -> Response:
    count = services.mark_all_read(actor=request.user)  # type: ignore[arg-type]
    return Response({"unread_count": count})


@extend_schema(
    request=AnnounceInput,
    responses={
        202: inline_serializer(
            "Announcement",
            {
                "id": serializers.IntegerField(),
                "audience": serializers.CharField(),
                "title": serializers.CharField(),
                "body": serializers.CharField(),
            },
        )
    },
)
@api_view(["POST"])
def announce(request: Request) -> Response:
    if not can_announce(request.user):  # type: ignore[arg-type]
        raise PermissionDenied("Only admins may send announcements.")
    data = AnnounceInput(data=request.data)
    data.is_valid(raise_exception=True)
    announcement = services.create_announcement(
        actor=request.user,  # type: ignore[arg-type]
        audience=data.validated_data["audience"],
        title=data.validated_data["title"],
        body=data.validated_data.get("body", ""),
    )
    return Response(
        {
            "id": announcement.pk,
            "audience": announcement.audience,
            "title": announcement.title,
            "body": announcement.body,
        },
        status=status.HTTP_202_ACCEPTED,
    )

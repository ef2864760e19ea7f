from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from courses.permissions import get_course_for_user

from . import selectors
from .permissions import can_see_online_users, can_see_watching
from .serializers import OnlineUsersSerializer, WatchingSerializer


@extend_schema(responses=OnlineUsersSerializer)
@api_view(["GET"])
def online_users(request: Request) -> Response:
    user: User = request.user  # type: ignore[assignment]
    if not can_see_online_users(user):
        raise PermissionDenied("Only admins see who is online.")
    return Response(selectors.online_users())


@extend_schema(responses=WatchingSerializer)
@api_view(["GET"])
def course_watching(request: Request, course_id: int) -> Response:
    user: User = request.user  # type: ignore[assignment]
    course = get_course_for_user(user, course_id)  # 404 when absent or not visible
    if not can_see_watching(user, course.instructor_id):
        raise PermissionDenied("Only the course's instructor and admins see who is watching.")
    return Response(selectors.watching(course.pk))

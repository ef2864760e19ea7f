from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from presence.selectors import viewer_counts

from .selectors import visible_courses
from .serializers import CourseDetailSerializer, CourseSerializer


@extend_schema(responses=CourseSerializer(many=True))
@api_view(["GET"])
def course_list(request: Request) -> Response:
    courses = list(visible_courses(request.user))  # type: ignore[arg-type]
    context = {"viewer_counts": viewer_counts(c.pk for c in courses)}
    return Response(CourseSerializer(courses, many=True, context=context).data)


@extend_schema(responses=CourseDetailSerializer)
@api_view(["GET"])
def course_detail(request: Request, course_id: int) -> Response:
    course = get_object_or_404(
        visible_courses(request.user).prefetch_related("lessons"),  # type: ignore[arg-type]
        pk=course_id,
    )
    context = {"viewer_counts": viewer_counts([course.pk])}
    return Response(CourseDetailSerializer(course, context=context).data)

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from .selectors import visible_courses
from .serializers import CourseDetailSerializer, CourseSerializer


@extend_schema(responses=CourseSerializer(many=True))
@api_view(["GET"])
def course_list(request: Request) -> Response:
    courses = visible_courses(request.user)  # type: ignore[arg-type]
    return Response(CourseSerializer(courses, many=True).data)


@extend_schema(responses=CourseDetailSerializer)
@api_view(["GET"])
def course_detail(request: Request, course_id: int) -> Response:
    course = get_object_or_404(
        visible_courses(request.user).prefetch_related("lessons"),  # type: ignore[arg-type]
        pk=course_id,
    )
    return Response(CourseDetailSerializer(course).data)

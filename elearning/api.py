"""API error shape: ``{"detail": "...", "code": "..."}`` with a 4xx status (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _first_code(codes: Any) -> str:
    if isinstance(codes, dict):
        return _first_code(next(iter(codes.values()), "invalid"))
    if isinstance(codes, list):
        return _first_code(codes[0]) if codes else "invalid"
    return str(codes)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _first_message(exc.detail),
            "code": _first_code(exc.get_codes()),
            "errors": exc.detail,
        }
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        response.data = {
            "detail": _first_message(exc.detail),
            "code": code if isinstance(code, str) else _first_code(code),
        }
    else:  # Http404, PermissionDenied from Django
        detail = response.data.get("detail", "Error") if isinstance(response.data, dict) else ""
        code = "not_found" if response.status_code == 404 else "permission_denied"
        response.data = {"detail": str(detail), "code": code}
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for URLs that match no route: the API's JSON shape under /api/, a page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return page_not_found(request, exception)

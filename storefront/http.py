"""The one shape of a JSON error, and how a view declares that it answers JSON.

Apps import this module (it imports nothing of theirs). A view that answers JSON says so with
``answers_json = True`` (``JsonView`` sets it); ``storefront.middleware.JsonViewMiddleware`` marks
the request, so that errors raised around the view (CSRF failures, 404s, 500s) are JSON as well.
Nothing looks at URL paths to guess.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views import View

REQUEST_FLAG = "answers_json"


def json_error(code: str, message: str, status: int, **headers: str) -> JsonResponse:
    """``{"error": {"code": ..., "message": ...}}`` with ``status``; ``Retry_After="5"`` becomes
    the ``Retry-After`` header."""
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class JsonView(View):
    """Base class of views that answer JSON, errors included."""

    answers_json = True


def view_answers_json(view_func) -> bool:
    view_class = getattr(view_func, "view_class", None)
    return bool(getattr(view_class, REQUEST_FLAG, False) or getattr(view_func, REQUEST_FLAG, False))


def wants_json(request: HttpRequest) -> bool:
    """True when the view declared JSON, or the caller asked for it (JSON body, JSON ``Accept``,
    an XMLHttpRequest)."""
    if getattr(request, REQUEST_FLAG, False):
        return True
    content_type = request.META.get("CONTENT_TYPE", "")
    accept = request.META.get("HTTP_ACCEPT", "")
    return (
        content_type.startswith("application/json")
        or ("application/json" in accept and "text/html" not in accept)
        or request.headers.get("x-requested-with") == "XMLHttpRequest"
    )

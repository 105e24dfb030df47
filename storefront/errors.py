"""Error handlers: JSON for views that answer JSON (``storefront.http``), a plain page for people.

They replace Django's defaults so no request ever sees a traceback or a bare 500.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from storefront.http import json_error, wants_json

logger = logging.getLogger(__name__)


def _page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    context = {"status": status, "title": title, "message": message}
    try:
        body: str = render_to_string("error.html", context, request=request)
    except TemplateDoesNotExist:  # pragma: no cover - the template ships with the project
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
    except Exception:  # a broken template must not turn an error page into a 500
        logger.exception("The error page could not be rendered")
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
    return HttpResponse(body, status=status)


def _answer(request: HttpRequest, status: int, code: str, title: str, message: str):
    if wants_json(request):
        return json_error(code, message, status)
    return _page(request, status, title, message)


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 400, "bad_request", "Bad request", "That request could not be read.")


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 403, "forbidden", "Forbidden", "You can't do that here.")


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 404, "not_found", "Not found", "There is nothing here.")


def error_500(request: HttpRequest) -> HttpResponse:
    return _answer(
        request,
        500,
        "server_error",
        "Something went wrong",
        "Something went wrong on our side. Nothing was charged; please try again.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _answer(
        request,
        403,
        "csrf_failed",
        "Page expired",
        "Your session's security token is missing or expired. Reload the page and try again.",
    )

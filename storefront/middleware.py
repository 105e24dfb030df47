"""Project middleware."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from storefront.http import REQUEST_FLAG, view_answers_json


class JsonViewMiddleware(MiddlewareMixin):
    """Marks requests routed to a view that answers JSON (see ``storefront.http``).

    It sits before ``CsrfViewMiddleware``, so a CSRF refusal of such a view is JSON too. Sync and
    async capable (``MiddlewareMixin``): it never makes the request change threads.
    """

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if view_answers_json(view_func):
            setattr(request, REQUEST_FLAG, True)
        return


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """``Permissions-Policy`` from ``{feature: [allowed origins]}`` (``self`` as is, other origins
    quoted; an empty list turns the feature off)."""
    parts = []
    for feature, origins in policy.items():
        allowed = " ".join(o if o in ("self", "*") else f'"{o}"' for o in origins)
        parts.append(f"{feature}=({allowed})")
    return ", ".join(parts)


class PermissionsPolicyMiddleware:
    """Adds ``Permissions-Policy`` (``settings.PERMISSIONS_POLICY``, read at start-up) to every
    response."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.header = permissions_policy_header(getattr(settings, "PERMISSIONS_POLICY", {}) or {})

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.header
        return response

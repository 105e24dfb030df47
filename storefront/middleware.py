"""Project middleware."""

from __future__ import annotations

from django.http import HttpRequest
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

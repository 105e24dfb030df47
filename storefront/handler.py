"""The store's ASGI handler for HTTP: one hop to a thread per request, and a pool of threads.

Django's own ASGI handler runs a sync project like this one by hopping between the event loop and
one shared thread again and again per request: for the ``request_started`` signal, for each
middleware's request and response halves (``MiddlewareMixin`` in async mode), for the view, for
``response.close()``. Every hop costs, and with one shared thread all requests queue behind each
other, also while one of them waits on banq or the database.

``StoreASGIHandler`` keeps Django's request handling as it is, but runs the whole sync part of a
request (the signal, building the request, the middleware chain in sync mode, the view) in one
call to a thread of a pool of ``STOREFRONT_THREADS`` threads; the response is sent from the event
loop; closing it is one more call. Each pool thread keeps its own database connection (Django's
connections are per thread); ``close_old_connections`` runs at the start and end of each request
as usual.

WebSockets (Channels) are not affected: they go through their consumers.

The steps are Django's ``ASGIHandler.handle`` and ``run_get_response``, run differently: a test
(tests/storefront/test_third_party_internals.py) fingerprints the Django code followed here, so
an upgrade that changes it fails until this is re-checked, and pyproject.toml pins Django's minor
version.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import response_for_exception
from django.http import FileResponse
from django.urls import set_script_prefix


class StoreASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.executor = ThreadPoolExecutor(
            max_workers=settings.STOREFRONT_THREADS, thread_name_prefix="request"
        )

    def load_middleware(self, is_async: bool = False) -> None:
        # The whole chain in sync mode: it runs inside the request's one thread hop.
        super().load_middleware(is_async=False)

    async def _in_thread(self, fn, *args):
        # asgiref's sync_to_async (not a bare run_in_executor): it copies the context and tells
        # the thread which loop is the main one, so async_to_sync in there schedules on it.
        return await sync_to_async(fn, thread_sensitive=False, executor=self.executor)(*args)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except Exception:  # the client went away while sending the body (RequestAborted)
            return
        try:
            response = await self._in_thread(self._respond, scope, body_file)
            with contextlib.suppress(asyncio.CancelledError):  # the client left while we sent
                await self.send_response(response, send)
            await self._in_thread(response.close)
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """The sync part of a request: Django's usual steps, in this pool thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        try:
            response = self.get_response(request)
        except Exception as exc:  # noqa: BLE001 - the chain converts exceptions; this is the rest
            response = response_for_exception(request, exc)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response

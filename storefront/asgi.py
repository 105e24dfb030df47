"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by daphne), both
behind the store's edge (``storefront.edge``)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")

# Django must be set up before anything imports models (the routing does).
django.setup(set_prefix=False)

from storefront.handler import StoreASGIHandler  # noqa: E402

django_asgi_app = StoreASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.conf import settings  # noqa: E402

from orders.routing import websocket_urlpatterns  # noqa: E402
from storefront.edge import StoreEdge, WebSocketOriginCheck  # noqa: E402

# StoreEdge (storefront/edge.py): the client's address behind trusted proxies, the request id, and
# 413 for a body over the path's limit before it is read. WebSocketOriginCheck: a browser's
# socket only from an allowed origin (scheme, host and port); none at all passes.
application = StoreEdge(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": WebSocketOriginCheck(
                # The order socket needs the browser's session (the owner), never the user:
                # no user look-up on each connect.
                SessionMiddlewareStack(URLRouter(websocket_urlpatterns)),
                settings.WEBSOCKET_ALLOWED_ORIGINS,
            ),
        }
    )
)

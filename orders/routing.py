from django.urls import path

from orders import consumers

websocket_urlpatterns = [
    path("ws/orders/<str:public_id>/", consumers.OrderStatusConsumer.as_asgi()),
]

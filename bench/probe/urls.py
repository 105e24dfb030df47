from django.urls import path

from bench.probe import views

urlpatterns = [
    path("probe/bare", views.bare),
    path("probe/webhook", views.webhook),
    path("probe/link", views.link),
]

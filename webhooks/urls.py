from django.urls import path

from webhooks.views import BanqWebhookView

app_name = "webhooks"
urlpatterns = [
    path("banq/<str:token>/payment-status/", BanqWebhookView.as_view(), name="banq"),
]

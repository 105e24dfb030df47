from django.urls import path

from webhooks.views import BanqWebhookView

app_name = "webhooks"
urlpatterns = [
    path("banq/<str:token>/payment-status/", BanqWebhookView.as_view(), name="banq"),
    # banq's guide writes the URL without the slash; a redirect would lose the POST body.
    path("banq/<str:token>/payment-status", BanqWebhookView.as_view()),
]

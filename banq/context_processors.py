"""What templates need of banq (the order page's widget script), without orders importing banq."""

from django.conf import settings
from django.urls import reverse


def banq(request):
    return {
        "BANQ_WIDGET_URL": settings.BANQ_WIDGET_URL,
        "BANQ_ENVIRONMENT": settings.BANQ_ENVIRONMENT,
        "BANQ_PAYMENT_LINK_URL": reverse("banq:generate-payment-link"),
    }

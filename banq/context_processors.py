"""What templates need of banq (the order page's widget script), without orders importing banq."""

from django.conf import settings


def banq(request):
    return {
        "BANQ_WIDGET_URL": settings.BANQ_WIDGET_URL,
        "BANQ_ENVIRONMENT": settings.BANQ_ENVIRONMENT,
    }

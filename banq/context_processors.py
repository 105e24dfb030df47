"""What templates need of banq (the order page's widget script and the URLs its script calls),
without orders importing banq."""

from django.urls import reverse

from banq.settings import banq_settings

ORDER_PLACEHOLDER = "__order__"


def banq(request):
    config = banq_settings()
    return {
        "BANQ_WIDGET_URL": config.widget_url,
        "BANQ_ENVIRONMENT": config.environment,
        "BANQ_PAYMENT_LINK_URL": reverse("banq:generate-payment-link"),
        # The page puts its order's id in place of the placeholder.
        "BANQ_CONFIRM_URL": reverse("banq:order-confirm", kwargs={"public_id": ORDER_PLACEHOLDER}),
    }

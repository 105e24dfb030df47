from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from storefront import metrics
        from webhooks.models import WebhookEvent

        # Every outcome of a delivery is on /metrics from the start, at 0: a counter that
        # appears only with its first event can't be told from one that is not collected.
        for outcome in [*WebhookEvent.State.values, "wrong_token", "too_large"]:
            metrics.WEBHOOKS.labels(outcome=outcome, via="delivery")

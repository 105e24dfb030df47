from django.apps import AppConfig


class BanqConfig(AppConfig):
    name = "banq"
    verbose_name = "banq payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from banq import checks  # noqa: F401  (registers the configuration system checks)
        from banq.provider import BanqProvider
        from orders.payments import payment_provider_register

        # orders reaches banq only through this: the order page's pay block, the look-ups
        # before an order expires or is cancelled, refunds and plans (orders.payments).
        payment_provider_register(BanqProvider())

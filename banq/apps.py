from django.apps import AppConfig


class BanqConfig(AppConfig):
    name = "banq"
    verbose_name = "banq payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from banq import checks  # noqa: F401  (registers the configuration system checks)
        from banq.provider import BanqProvider
        from banq.services import order_payments_answered_by_banq, order_payments_check_with_banq
        from orders.payments import payment_checker_register, payment_provider_register

        # orders asks banq, through this, before an order expires or is cancelled.
        payment_checker_register(
            ask=order_payments_check_with_banq, answered=order_payments_answered_by_banq
        )
        # ... and through this, for what comes after a payment (refunds, stopping a plan).
        payment_provider_register(BanqProvider())

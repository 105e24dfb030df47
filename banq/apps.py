from django.apps import AppConfig


class BanqConfig(AppConfig):
    name = "banq"
    verbose_name = "banq payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from banq import checks  # noqa: F401  (registers the configuration system checks)

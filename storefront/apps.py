from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The project package as an app: the task worker, its periodic schedule, error handling."""

    name = "storefront"
    verbose_name = "storefront"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from storefront import checks  # noqa: F401  (registers the safety checks)

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StorefrontConfig(AppConfig):
    """The project package as an app: the task worker, its periodic schedule, error handling."""

    default = True  # the app of "storefront" (the admin's config below is named explicitly)
    name = "storefront"
    verbose_name = "storefront"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from storefront import checks  # noqa: F401  (registers the safety checks)


class StoreAdminConfig(admin_apps.AdminConfig):
    """Django's admin, whose default site (``admin.site``, where every app registers its models)
    is the store's: sign-in with a second factor (``storefront.signin``)."""

    default = False  # named in INSTALLED_APPS in place of django.contrib.admin
    default_site = "storefront.signin.StoreAdminSite"

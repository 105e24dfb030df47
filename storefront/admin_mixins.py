"""Admin helpers the apps share."""

from __future__ import annotations

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """For a ModelAdmin or an inline whose rows the admin shows and never writes (money, history,
    what banq sent): no adding, no changing, no deleting. ``deletable = True`` gives deleting
    back to whoever has the model's delete permission (rows that are only a diagnostic)."""

    deletable = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)  # type: ignore[misc]

"""Admin helpers the apps share."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property


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


class ApproximateCount(int):
    """A count the admin's pagination shows in words ("about 1,000,000", "more than 10,000");
    it pages like the number it holds."""

    words: str

    def __new__(cls, value: int, words: str) -> ApproximateCount:
        count = super().__new__(cls, value)
        count.words = words
        return count

    def __str__(self) -> str:
        return self.words


class LargeTablePaginator(Paginator):
    """The admin's paginator for tables that grow without bound (orders, plans): a page never
    counts the whole table. Unfiltered on PostgreSQL, the count is the planner's estimate of the
    table's rows ("about N") once it is over ``CAP``; otherwise at most ``CAP + 1`` rows are
    counted, and a longer result shows as "more than CAP" (its first ``CAP`` rows can be paged
    through; a search or a filter narrows it). Use with ``show_full_result_count = False``."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        estimate = self._estimate(queryset)
        if estimate > self.CAP:
            return ApproximateCount(estimate, f"about {estimate:,}")
        counted = queryset.order_by().values("pk")[: self.CAP + 1].count()
        if counted > self.CAP:
            return ApproximateCount(counted, f"more than {self.CAP:,}")
        return counted

    @staticmethod
    def _estimate(queryset: QuerySet) -> int:
        """The planner's row estimate of an unfiltered PostgreSQL table, else -1."""
        connection = connections[queryset.db]
        if connection.vendor != "postgresql" or queryset.query.where:
            return -1
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        return int(row[0]) if row else -1

"""Export orders (or installments, or refunds) to CSV for the bookkeeper, from cron: the admin's
export."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from orders.exports import EXPORTS, csv_write, export_rows_between


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Write the orders placed from --since through --until (whole days in the store's time "
        "zone; either may be left out) as CSV, with the same columns as the admin's export: to "
        "stdout, or to --output FILE (written whole, then moved into place, so a reader never "
        "sees half a file). --rows installments exports the plans' installments charged in "
        "those days instead, --rows refunds the refunds recorded in them. Rows are read and "
        "written a chunk at a time: memory stays the same whatever the number of orders."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="first day")
        parser.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last day")
        parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
        parser.add_argument(
            "--rows", choices=sorted(EXPORTS), default="orders", help="what to export"
        )

    def handle(self, *args, since=None, until=None, output=None, rows="orders", **options):
        if since and until and since > until:
            raise CommandError(f"--since {since} is after --until {until}")
        queryset = export_rows_between(name=rows, since=since, until=until)
        export = EXPORTS[rows]
        if output is None:
            count = csv_write(export, queryset, self.stdout)
            destination = "stdout"
        else:
            count = self._write_file(Path(output), export, queryset)
            destination = output
        # On stderr: stdout may be the CSV itself.
        self.stderr.write(
            f"{count} {rows} row(s) exported to {destination}.", style_func=lambda text: text
        )

    def _write_file(self, path: Path, export, queryset) -> int:
        directory = path.resolve().parent
        if not directory.is_dir():
            raise CommandError(f"no such directory: {directory}")
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                count = csv_write(export, queryset, out)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return count

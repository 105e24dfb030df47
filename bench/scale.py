"""A year of orders (``make bench SCALE=1``, ``python -m bench --only scale``).

Each profile (SQLite as ``make run`` sets it up, PostgreSQL + Redis) runs against databases of
its own: SQLite in ``bench/results/scale.sqlite3`` and ``scale-empty.sqlite3``; PostgreSQL in a
database named after the configured one with ``bench`` appended (``DATABASE_URL=.../shop``
gives ``shopbench``; ``bench_storefront_scale`` when no PostgreSQL database is configured) and
the same name with ``_empty``. Only those two are dropped and re-created; the configured one is
never touched.

The run measures the paths below on an empty database (the same name with ``_empty``, or
``scale-empty.sqlite3``), fills the other with ``manage.py seed_orders`` (1,000,000 orders over
365 days on PostgreSQL, 100,000 on SQLite; ``--quick``: 100,000 and 20,000), then measures the
same paths on it, and prints one table with both figures and each target met or missed. The
store's hot paths, whose target is a ratio to the empty database's, are measured on both at
once: a store and a worker on each database, one request at a time, in interleaved blocks, so
that both figures see the same machine at the same minutes:

- the admin (in this process, Django's test client, a signed-in superuser; p50 of several
  requests after one warm-up, and the queries of one request): the order list's default page,
  search by order number and by e-mail, each filter, a date range; an order page with 50
  history lines; the admin index; the subscriptions list;
- the sweep and the expiry ticks: the database time (statements' wall time, in this process) of
  the queries that pick their work, which is what grows with the number of closed orders (the
  work on each picked item does not), in a transaction rolled back after each;
- the store over HTTP, one request at a time once the machine is quiet (as ``bench.run.unloaded``):
  a webhook's acknowledgement, a payment link, the order status JSON and the order page;
- CSV export of every order and the 30-day chart, once they exist (else "not built yet");
- the database's size per order.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench import procs
from bench.client import LoadResult, Request
from bench.run import Bench, get, json_post, measure, settle, table, webhook_body

FULL = {"postgres": 1_000_000, "sqlite": 100_000}
QUICK = {"postgres": 100_000, "sqlite": 20_000}
DAYS = 365
ADMIN_P50_MS = 150.0  # the order list, its search and filters; the admin index
ORDER_PAGE_MS = 100.0
TICK_DB_MS = 20.0
HOT_PATH_RATIO = 1.10  # webhook, link, status: within 10% of the empty database
HISTORY_LINES = 50
EXPORT_ROWS_PER_S = 20_000
EXPORT_GROWTH_MB = 50.0


HOT_PATHS = ("webhook acknowledgement", "payment link", "order status JSON", "order page")


def scale_database_url(kind: str, *, empty: bool = False) -> str:
    """A fresh database for the scale run (see the module's docstring); ``empty``: the one that
    stays empty."""
    procs.RESULTS.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        path = procs.RESULTS / ("scale-empty.sqlite3" if empty else "scale.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    configured = os.environ.get("DATABASE_URL", "")
    name = "bench_storefront_scale"
    if configured.startswith(("postgres://", "postgresql://")):
        name = urlsplit(configured).path.lstrip("/") + "bench"
    name += "_empty" if empty else ""
    with psycopg.connect(procs.PG_URL.format(name="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return procs.PG_URL.format(name=name)


@dataclass
class Measured:
    """One path's figure on one database: a time in ms (p50, or database time) and the queries
    of one request (admin pages)."""

    ms: float
    queries: int | None = None
    note: str = ""
    rate: float = 0.0  # rows per second (the export)
    growth_mb: float = 0.0  # memory's growth (the export)


@dataclass
class Phase:
    name: str
    figures: dict[str, Measured] = field(default_factory=dict)


def one_at_a_time(
    sides: dict[str, tuple[list[procs.Proc], list[Request]]], *, quiet_wait: float, blocks: int = 4
) -> dict[str, LoadResult]:
    """``bench.run.unloaded`` with a shorter wait for a quiet machine (``quiet_wait`` seconds):
    one request at a time per side, in interleaved blocks."""
    settle(timeout=quiet_wait)
    merged = {name: LoadResult() for name in sides}
    for block in range(blocks):
        for name, (servers, requests) in sides.items():
            result, _ = measure(servers, requests[block::blocks], concurrency=1)
            merged[name].add(result, seconds=merged[name].seconds + result.seconds)
    return merged


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


class AdminReader:
    """The merchant's admin in this process: a signed-in superuser and Django's test client."""

    def __init__(self, repeat: int) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        user, _ = get_user_model().objects.get_or_create(
            username="scale-bench", defaults={"is_staff": True, "is_superuser": True}
        )
        self.client = Client()
        self.client.force_login(user)
        self.repeat = repeat

    def page(self, url: str) -> Measured:
        from django.db import connection

        response = self.client.get(url)  # warm-up (and the page must answer)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")
        statements = []

        def counted(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            self.client.get(url)
        samples = []
        for _ in range(self.repeat):
            started = time.perf_counter()
            self.client.get(url)
            samples.append(time.perf_counter() - started)
        return Measured(p50_ms(samples), len(statements))


def database_ms(work: Callable[[], object], repeat: int) -> float:
    """p50 of the summed wall time of the statements ``work`` sends, in a transaction rolled
    back after each run."""
    from django.db import connection, transaction

    runs = []
    for _ in range(repeat):
        spent = [0.0]

        def timed(execute, sql, params, many, context, spent=spent):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent[0] += time.perf_counter() - started

        with connection.execute_wrapper(timed), transaction.atomic():
            work()
            transaction.set_rollback(True)
        runs.append(spent[0])
    return statistics.median(runs) * 1000


def sweep_selection() -> None:
    """What a sweep tick (``banq_sweep``) reads to find its work: attempts due, plans overdue."""
    from django.utils import timezone

    from banq.overdue import _overdue_cutoff
    from banq.settings import banq_settings
    from banq.tasks import attempts_claim_due, sweep_budget
    from orders.services.subscriptions import subscriptions_claim_overdue

    now = timezone.now()
    config = banq_settings()
    attempts_claim_due(limit=sweep_budget())
    subscriptions_claim_overdue(
        due_on_or_before=_overdue_cutoff(now=now, grace=config.installment_grace),
        asked_before=now - config.sweep_every,
        limit=sweep_budget(),
        now=now,
    )


def retry_selection() -> None:
    """What the webhook retry tick reads to find its work: events to process again."""
    from webhooks.tasks import events_due

    events_due()


def expiry_selection() -> None:
    """What an expiry tick reads to find its work: the orders past their payment time."""
    from orders.periodic import EXPIRE_BATCH
    from orders.services import orders_expire_stale

    orders_expire_stale(dry_run=True, limit=EXPIRE_BATCH)


class ScaleBench(Bench):
    """The scale run of one database profile (``--db``)."""

    def start(self) -> None:
        """The emulator, both databases migrated with the demo catalog, and a store and a worker
        on the empty one; this process reads the empty one until ``use_full_database``."""
        self.emulator = procs.start_emulator()
        self.stack.callback(self.emulator.stop)
        self.env = procs.base_env(
            database=scale_database_url(self.db, empty=True),
            redis=self.db == "postgres",
            emulator_url=self.emulator.url,
            store_url="http://127.0.0.1:8000",
        )
        if self.db == "postgres" and os.environ.get("REDIS_URL"):
            self.env["REDIS_URL"] = os.environ["REDIS_URL"]
        self.full_env = {**self.env, "DATABASE_URL": scale_database_url(self.db)}
        for env in (self.env, self.full_env):
            procs.migrate(env)
            self.manage("load_demo_catalog", env=env)
        os.environ.update(self.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "storefront.settings"
        import django

        django.setup()
        from bench.data import Emulator

        self.banq = Emulator(self.emulator.url)
        self.tokens_at_start = self.banq.tokens_issued()
        self.stores = self.start_servers(self.env)
        self.empty_stores = self.stores
        self.empty_url = self.env["DATABASE_URL"]

    def start_servers(self, env: dict[str, str]) -> list[procs.Proc]:
        """A store and a worker on ``env``'s database; the store, in a list."""
        store = procs.start_store(env, "store")
        self.stack.callback(store.stop)
        worker = procs.start_worker(env)
        self.stack.callback(worker.stop)
        return [store]

    def use_full_database(self) -> None:
        """From now on this process, the commands and the store read the database to be seeded
        (the empty one's store and worker go on, for the hot paths measured beside it)."""
        self.read_database(self.full_env["DATABASE_URL"])
        self._history_order = None  # made again there
        self.env = self.full_env
        os.environ.update(self.env)

    def read_database(self, url: str) -> None:
        """This process's ORM reads the database at ``url`` (one of the two: only the name
        differs)."""
        from django.db import connections

        connections.close_all()
        if self.db == "sqlite":
            name = url.removeprefix("sqlite:///")
        else:
            name = urlsplit(url).path.lstrip("/")
            connections["default"].close_pool()  # the pool keeps its connections' database
        connections.settings["default"]["NAME"] = name

    def manage(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=procs.BASE_DIR,
            env=env or self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)}: {done.stderr.strip()[-2000:]}")
        return done

    # --- one phase ------------------------------------------------------------------------------

    def measure_phase(self, name: str) -> Phase:
        phase = Phase(name)
        self.say(f"Measuring on the {name} database ...")
        self.admin_figures(phase)
        repeat = self.size(25, 11)
        phase.figures["sweep tick, database time"] = Measured(database_ms(sweep_selection, repeat))
        phase.figures["expiry tick, database time"] = Measured(
            database_ms(expiry_selection, repeat)
        )
        phase.figures["webhook retry tick, database time"] = Measured(
            database_ms(retry_selection, repeat)
        )
        if name != "empty":  # the empty database's are measured beside these
            self.http_figures(phase)
        self.export_figure(phase)
        return phase

    def admin_figures(self, phase: Phase) -> None:
        from django.utils import timezone

        from orders.models import Order, OrderEvent

        admin = AdminReader(self.size(15, 7))
        order = self.history_order()
        now = timezone.now()

        def between(field: str, start_days: int, end_days: int) -> str:
            """The admin's date-range filter (django-admin-rangefilter's parameters)."""
            return urlencode(
                {
                    f"{field}__range__gte": str((now - timedelta(days=start_days)).date()),
                    f"{field}__range__lte": str((now - timedelta(days=end_days)).date()),
                }
            )

        some = Order.objects.filter(status="paid").order_by("-pk").first() or order
        base = "/admin/orders/order/"
        pages = {
            "admin order list, default page": base,
            "admin list, search by order number": f"{base}?q={some.number}",
            "admin list, search by e-mail": f"{base}?{urlencode({'q': some.email})}",
            "admin list, filter status paid": f"{base}?status__exact=paid",
            "admin list, filter status failed": f"{base}?status__exact=failed",
            "admin list, filter unfulfilled": f"{base}?fulfilment_status__exact=unfulfilled",
            "admin list, placed in the past 7 days": f"{base}?{between('created_at', 7, 0)}",
            "admin list, filter needs attention": f"{base}?needs_attention=any",
            "admin list, filter paid this week": f"{base}?paid=week",
            "admin list, placed a month, 3 months ago": f"{base}?{between('created_at', 120, 90)}",
            "admin list, paid a month, 3 months ago": f"{base}?{between('paid_at', 120, 90)}",
            "admin order page, 50 history lines": f"{base}{order.pk}/change/",
            "admin index": "/admin/",
            "admin subscriptions list": "/admin/orders/subscription/",
        }
        for name, url in pages.items():
            phase.figures[name] = admin.page(url)
        index = admin.client.get("/admin/").content.decode()
        phase.figures["admin index"].note = (
            "with the 30-day chart" if "chart" in index.lower() else "30-day chart not built yet"
        )
        assert OrderEvent.objects.filter(order=order).count() >= HISTORY_LINES

    def history_order(self):
        """An order with 50 history lines (one on each database)."""
        from bench.data import order_batch
        from orders.models import OrderEvent, OrderFlag

        if getattr(self, "_history_order", None) is None:
            (order,) = order_batch(1, status="paid")
            OrderEvent.objects.bulk_create(
                OrderEvent(
                    order=order,
                    kind="recheck",
                    source="sweep",
                    message=f"Checked with banq ({n}): not paid yet.",
                )
                for n in range(HISTORY_LINES)
            )
            # Flagged, so that "needs attention" lists something on the empty database too.
            OrderFlag.objects.create(order=order, kind="email_failed", note="Bench: refused.")
            self._history_order = order
        return self._history_order

    def hot_requests(self) -> dict[str, list[Request]]:
        """The hot paths' requests, on the database this process reads: webhooks for orders paid
        at banq, payment links for pending orders with their owners' sessions, and an order's
        status JSON and page."""
        from bench.data import csrf_token, order_batch, owner_sessions, paid_at_banq

        n = self.size(120, 48)
        hook = f"/webhooks/banq/{procs.WEBHOOK_TOKEN}/payment-status/"
        paying = paid_at_banq(self.banq, n)
        pending = order_batch(n, status="pending")
        sessions = owner_sessions(pending)
        token = csrf_token()
        (viewed,) = order_batch(1)
        (viewer,) = owner_sessions([viewed])
        cookie = {"Cookie": f"sessionid={viewer}"}
        return {
            "webhook acknowledgement": [json_post(hook, webhook_body(pid)) for _, pid in paying],
            "payment link": [
                json_post(
                    "/generate-payment-link",
                    {"orderId": str(o.public_id)},
                    {"Cookie": f"sessionid={k}; csrftoken={token}", "X-CSRFToken": token},
                )
                for o, k in zip(pending, sessions, strict=True)
            ],
            "order status JSON": [get(f"/orders/{viewed.public_id}/status", cookie)] * n,
            "order page": [get(f"/orders/{viewed.public_id}/", cookie)] * n,
        }

    def http_figures(self, phase: Phase) -> None:
        """Webhook acknowledgement, payment link, status JSON and order page, one at a time, on
        this database's store and, in the same interleaved blocks, on the empty one's (its
        figures go to ``self.empty_beside``)."""
        self.read_database(self.empty_url)
        empty = self.hot_requests()
        self.read_database(self.env["DATABASE_URL"])
        full = self.hot_requests()
        sides = {}
        for name in HOT_PATHS:
            sides[name] = (self.stores, full[name])
            sides[f"{name}, empty"] = (self.empty_stores, empty[name])
        results = one_at_a_time(sides, quiet_wait=self.size(30, 8))
        for side, result in results.items():
            bad = result.non_2xx
            figure = Measured(result.p50 * 1000, note=f"{bad} non-2xx" if bad else "")
            if side.endswith(", empty"):
                self.empty_beside[side.removesuffix(", empty")] = figure
            else:
                phase.figures[side] = figure

    def export_figure(self, phase: Phase) -> None:
        """``manage.py export_orders`` of every order to a file: rows per second (less the
        command's start-up, an export of no order) and its memory's growth over the export
        (peak resident memory, less the empty export's)."""
        from django.core.management import get_commands

        name = "CSV export of every order"
        if "export_orders" not in get_commands():
            phase.figures[name] = Measured(0.0, note="not built yet")
            return
        try:
            empty = self.export_run("--since", "2999-01-01")
            rows, seconds, peak_mb = self.export_run()
        except RuntimeError as exc:
            phase.figures[name] = Measured(0.0, note=f"failed: {exc}")
            return
        rate = rows / max(1e-9, seconds - empty[1])
        growth = max(0.0, peak_mb - empty[2])
        phase.figures[name] = Measured(
            seconds * 1000,
            note=f"{rows:,} rows, {rate:,.0f} rows/s, memory +{growth:.0f} MB",
            rate=rate,
            growth_mb=growth,
        )

    def export_run(self, *args: str) -> tuple[int, float, float]:
        """(rows, seconds, peak resident MB) of one ``export_orders`` run."""
        with tempfile.TemporaryFile() as out:
            started = time.perf_counter()
            popen = subprocess.Popen(
                [sys.executable, "manage.py", "export_orders", *args],
                cwd=procs.BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(popen.pid, 0)
            popen.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.perf_counter() - started
            if popen.returncode != 0:
                raise RuntimeError(f"exit {popen.returncode}")
            out.seek(0)
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
        return max(0, lines - 1), seconds, usage.ru_maxrss / 1024

    # --- the run ----------------------------------------------------------------------------

    def database_bytes(self) -> int:
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_database_size(current_database())")
                return int(cursor.fetchone()[0])
        name = Path(connection.settings_dict["NAME"])
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(
            Path(f"{name}{s}").stat().st_size for s in ("", "-wal") if Path(f"{name}{s}").exists()
        )

    def seed(self, count: int) -> dict:
        self.say(f"Seeding {count:,} orders over {DAYS} days (manage.py seed_orders) ...")
        before = self.database_bytes()
        started = time.monotonic()
        done = self.manage(
            "seed_orders", "--count", str(count), "--days", str(DAYS), "--seed", "2025"
        )
        seconds = time.monotonic() - started
        after = self.database_bytes()
        self.say(f"  {done.stdout.strip().splitlines()[-1]}")
        per_order = (after - before) / count
        self.say(
            f"  {seconds:.0f} s ({count / seconds:,.0f} orders/s); the database grew "
            f"{(after - before) / 2**20:,.0f} MB: {per_order / 1024:.1f} KiB per order with "
            "its lines, history, attempts, events and plans, indexes included"
        )
        return {"seconds": seconds, "bytes_per_order": per_order, "bytes": after}

    def scale(self) -> None:
        count = (QUICK if self.quick else FULL)[self.db]
        self.empty_beside: dict[str, Measured] = {}
        empty = self.measure_phase("empty")
        self.use_full_database()
        seeded = self.seed(count)
        self.stores = self.start_servers(self.env)
        full = self.measure_phase(f"{count:,}-order")
        empty.figures.update(self.empty_beside)
        rows, met, missed = scale_rows(empty, full)
        self.say()
        self.say(
            table(
                f"At a year of orders ({self.db}, {count:,} orders over {DAYS} days)",
                ["path", "empty", f"at {count:,}", "queries", "target", ""],
                rows,
            )
        )
        self.say(
            f"  {met} target(s) met, {missed} missed; database size "
            f"{seeded['bytes_per_order'] / 1024:.1f} KiB per order "
            f"({seeded['bytes'] / 2**20:,.0f} MB in all); seeding {seeded['seconds']:.0f} s"
        )
        self.say()
        self.results["scale"] = {
            "count": count,
            "empty": {k: vars(v) for k, v in empty.figures.items()},
            "full": {k: vars(v) for k, v in full.figures.items()},
            "seed": seeded,
            "met": met,
            "missed": missed,
        }

    def run(self, only: list[str]) -> None:
        self.start()
        try:
            self.scale()
        finally:
            self.stop()
        procs.RESULTS.mkdir(parents=True, exist_ok=True)
        path = procs.RESULTS / f"scale-{self.db}.json"
        path.write_text(json.dumps({**self.results, "text": self.out}, indent=2, default=str))
        self.say(f"Results: {path.relative_to(procs.BASE_DIR)}")


def target_of(name: str) -> tuple[str, Callable[[Measured, Measured], bool]] | None:
    """The target a figure is checked against: its words and the check (empty, full)."""
    if name.startswith(("admin list", "admin order list", "admin subscriptions")):
        return (
            f"p50 <= {ADMIN_P50_MS:.0f} ms, queries not more",
            lambda e, f: f.ms <= ADMIN_P50_MS and f.queries <= e.queries,
        )
    if name == "admin index":
        return (f"<= {ADMIN_P50_MS:.0f} ms", lambda e, f: f.ms <= ADMIN_P50_MS)
    if name.startswith("admin order page"):
        return (f"<= {ORDER_PAGE_MS:.0f} ms", lambda e, f: f.ms <= ORDER_PAGE_MS)
    if name.startswith("CSV export"):
        return (
            f">= {EXPORT_ROWS_PER_S:,} rows/s, memory +{EXPORT_GROWTH_MB:.0f} MB at most",
            lambda e, f: f.rate >= EXPORT_ROWS_PER_S and f.growth_mb <= EXPORT_GROWTH_MB,
        )
    if name in ("sweep tick, database time", "expiry tick, database time"):
        return (f"<= {TICK_DB_MS:.0f} ms", lambda e, f: f.ms <= TICK_DB_MS)
    if name in HOT_PATHS:
        words = f"<= {HOT_PATH_RATIO:.2f}x empty"
        return (words, lambda e, f: f.ms <= e.ms * HOT_PATH_RATIO)
    return None


def scale_rows(empty: Phase, full: Phase) -> tuple[list[list[str]], int, int]:
    rows = []
    met = missed = 0
    for name, f in full.figures.items():
        e = empty.figures[name]
        if f.note == "not built yet" or f.note.startswith("failed"):
            rows.append([name, "-", "-", "", "", f.note])
            continue
        queries = "" if f.queries is None else f"{e.queries} / {f.queries}"
        target = target_of(name)
        verdict = ""
        if target:
            ok = target[1](e, f)
            met, missed = met + ok, missed + (not ok)
            verdict = "met" if ok else "MISSED"
        if name in HOT_PATHS:
            verdict += f" ({f.ms / e.ms:.2f}x; the empty database beside it)" if e.ms else ""
        note = f"; {f.note}" if f.note else ""
        rows.append(
            [
                name,
                f"{e.ms:.1f} ms",
                f"{f.ms:.1f} ms",
                queries,
                target[0] if target else "",
                verdict + note,
            ]
        )
    return rows, met, missed


def run_scale(*, quick: bool) -> int:
    """``make bench SCALE=1``: the scale run on SQLite, then on PostgreSQL + Redis, each in its
    own process."""
    started = time.monotonic()
    failed = []
    for db in ("sqlite", "postgres"):
        print(f"=== a year of orders, {db} ===", flush=True)
        if db == "postgres" and (problem := procs.production_services_missing()):
            print(f"skipped: {problem}\n", flush=True)
            failed.append(db)
            continue
        command = [sys.executable, "-m", "bench", "--db", db, "--only", "scale"]
        command += ["--quick"] if quick else []
        if subprocess.run(command, cwd=procs.BASE_DIR).returncode != 0:
            failed.append(db)
    minutes = (time.monotonic() - started) / 60
    print(f"({'quick, ' if quick else ''}{minutes:.1f} minutes in all)")
    if failed:
        print("not run or failed: " + ", ".join(failed))
    return 1 if failed else 0


def wanted(argv: list[str]) -> bool:
    """``python -m bench --scale`` or ``--only scale``: the scale run, not the hot paths'."""
    if "--scale" in argv:
        return True
    if "--only" in argv:
        return "scale" in argv[argv.index("--only") + 1 :]
    return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="SQLite, then PostgreSQL + Redis")
    parser.add_argument("--quick", action="store_true", help="100,000 orders on PostgreSQL")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--only", nargs="*", default=[], help="scale")
    args = parser.parse_args(argv)
    if args.scale:
        return run_scale(quick=args.quick)
    ScaleBench(quick=args.quick, db=args.db, workers=1).run(args.only)
    return 0

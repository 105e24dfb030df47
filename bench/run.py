"""``make bench`` (``python -m bench``): the store's hot paths against minimal probes.

    python -m bench --all [--quick]          every profile, then the targets (``make bench``)
    python -m bench [--quick] [--db sqlite|postgres] [--workers 1|2] [--profile quiet|run]
                    [--only NAME ...]
    python -m bench --summary                the targets of the latest results

Starts the banq emulator, the store (``storefront.serve``, daphne, one process or two), the probe
server (the store's own ASGI application and middleware with hand-written views), the stock server
(Django's stock handler and middleware, for the framework floor) and the task worker, all on
loopback against a fresh database; drives them with an asyncio HTTP/1.1 client at 32 concurrent
connections; prints tables. Every path is measured in 3 rounds, interleaved with its probe, and
the median round is reported. The webhook and the link show the CPU per request of every process
the request causes work in: the server, the task worker (until it has run the round's tasks, so
the next round starts with it idle) and the emulator (and PostgreSQL). Results go to
``bench/results/latest-<db>-<workers>w[-run].json``; ``--all`` also writes
``bench/results/summary.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal

from bench import procs, summary
from bench.client import LoadResult, Request, run_load

CONCURRENCY = 32
ROUNDS = 3


@dataclass
class Figure:
    """One path's median round."""

    name: str
    rate: float  # requests per second
    cpu_ms: float  # server CPU per request
    db_cpu_ms: float  # PostgreSQL's CPU per request (0 with SQLite, which runs in the server)
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    statuses: str = ""  # the non-2xx answers by status, when there were any
    machine_busy: float = 0.0  # share of the machine's cores busy during the round
    # The task worker's CPU per request, from the round's start until it has run every task
    # (when the worker was counted); the emulator's during the same time.
    worker_ms: float = 0.0
    emulator_ms: float = 0.0
    worker_counted: bool = False

    @property
    def total_ms(self) -> float:
        """CPU per request in every process the request caused work in."""
        worker = self.worker_ms if self.worker_counted else 0.0
        return self.cpu_ms + worker + self.emulator_ms + self.db_cpu_ms

    def row(self) -> list[str]:
        return [
            self.name,
            f"{self.rate:,.0f}/s",
            f"{self.cpu_ms:.1f} ms" + (f" +{self.db_cpu_ms:.1f} DB" if self.db_cpu_ms else ""),
            f"{self.p50_ms:.1f} ms",
            f"{self.p99_ms:.0f} ms",
            f"{self.non_2xx} {self.statuses}".strip(),
        ]

    def cost_row(self, *, db: bool) -> list[str]:
        """The row with CPU per request by process: server, worker, emulator, (DB), total."""
        return [
            self.name,
            f"{self.rate:,.0f}/s",
            f"{self.cpu_ms:.2f}",
            f"{self.worker_ms:.2f}" if self.worker_counted else "idle",
            f"{self.emulator_ms:.2f}",
            *([f"{self.db_cpu_ms:.2f}"] if db else []),
            f"{self.total_ms:.2f}",
            f"{self.p50_ms:.1f} ms",
            f"{self.p99_ms:.0f} ms",
            f"{self.non_2xx} {self.statuses}".strip(),
        ]


COST_HEADER = ["path", "rate", "server", "worker", "emulator", "total", "p50", "p99", "non-2xx"]


def cost_header(*, db: bool) -> list[str]:
    return COST_HEADER[:5] + (["DB"] if db else []) + COST_HEADER[5:]


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def tasks_done(*, timeout: float = 120.0) -> bool:
    """Wait until the task worker has run every task that is due (none ready, none running);
    False if it has not within ``timeout`` seconds."""
    from django_tasks_db.models import DBTaskResult

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (DBTaskResult.objects.ready() | DBTaskResult.objects.running()).exists():
            return True
        time.sleep(0.05)
    return False


@dataclass
class Accounting:
    """The processes besides the servers whose CPU a round counts: the emulator (it answers the
    servers' banq calls), and the task worker, counted until it has run every task the round
    enqueued (``tasks_done``), so that the next round starts with the worker idle."""

    emulator: procs.Proc | None = None
    worker: procs.Proc | None = None


def measure(
    servers: list[procs.Proc],
    requests: list[Request],
    *,
    concurrency: int = CONCURRENCY,
    accounting: Accounting | None = None,
) -> tuple[LoadResult, float]:
    """Send ``requests`` spread over ``servers``; returns the load result and the servers' CPU
    seconds used meanwhile. With ``accounting``, the result also carries the emulator's and the
    worker's CPU seconds (``others_cpu``), and PostgreSQL's, until the worker is done."""
    extra = accounting or Accounting()
    before = sum(s.cpu() for s in servers)
    others = {p.name: p for p in (extra.emulator, extra.worker) if p is not None}
    others_before = {name: p.cpu() for name, p in others.items()}
    db_before = procs.database_cpu()
    busy_before, total_before = procs.machine_cpu()

    async def all_servers() -> LoadResult:
        share = max(1, concurrency // len(servers))
        parts = [requests[i :: len(servers)] for i in range(len(servers))]
        results = await asyncio.gather(
            *(
                run_load("127.0.0.1", s.port, part, concurrency=share)
                for s, part in zip(servers, parts, strict=True)
            )
        )
        merged = LoadResult()
        for r in results:  # the servers were loaded at the same time
            merged.add(r, seconds=max(merged.seconds, r.seconds))
        return merged

    result = asyncio.run(all_servers())
    cpu = sum(s.cpu() for s in servers) - before
    busy, total = procs.machine_cpu()
    result.machine_busy = (busy - busy_before) / max(1e-9, total - total_before)
    if extra.worker is not None and not tasks_done():
        print("  (the task worker had not caught up after 120 s)", flush=True)
    result.others_cpu = {name: p.cpu() - others_before[name] for name, p in others.items()}
    result.db_cpu = procs.database_cpu() - db_before
    return result, cpu


def figure(name: str, rounds: list[tuple[LoadResult, float]], *, worker: bool = False) -> Figure:
    """The median round by rate; ``worker``: the task worker's CPU counts in the total."""
    ordered = sorted(rounds, key=lambda r: r[0].rate)
    result, cpu = ordered[len(ordered) // 2]
    per_request = 1000 / max(1, result.requests)
    return Figure(
        name=name,
        rate=result.rate,
        cpu_ms=cpu * per_request,
        db_cpu_ms=result.db_cpu * per_request,
        p50_ms=result.p50 * 1000,
        p99_ms=result.p99 * 1000,
        requests=result.requests,
        machine_busy=result.machine_busy,
        non_2xx=sum(r.non_2xx for r, _ in rounds),
        statuses=" ".join(
            f"({status}: {n})"
            for status, n in sorted(sum((r.statuses for r, _ in rounds), Counter()).items())
            if not 200 <= status < 300
        ),
        worker_ms=result.others_cpu.get("worker", 0.0) * per_request,
        emulator_ms=result.others_cpu.get("emulator", 0.0) * per_request,
        worker_counted=worker,
    )


def interleave(
    paths: dict[str, tuple[list[procs.Proc], Callable[[int], list[Request]]]],
    rounds: int = ROUNDS,
    *,
    accounting: Accounting | None = None,
    worker_paths: tuple[str, ...] = (),
) -> dict[str, Figure]:
    """Run every path ``rounds`` times, interleaved; ``paths`` maps a name to (servers, a function
    building round n's requests). With ``accounting`` every round counts the emulator and waits
    for the worker; the worker's CPU counts in the total of the ``worker_paths`` (the others
    show it idle: it had nothing to do)."""
    collected: dict[str, list] = {name: [] for name in paths}
    for n in range(rounds):
        for name, (servers, build) in paths.items():
            collected[name].append(measure(servers, build(n), accounting=accounting))
    return {name: figure(name, r, worker=name in worker_paths) for name, r in collected.items()}


def settle(*, quiet: float = 0.25, timeout: float = 30.0) -> None:
    """Wait until the task worker has caught up (no task ready to run) and the machine's cores
    are mostly idle over half a second (below ``quiet``), at most ``timeout`` seconds. An
    unloaded figure taken while the worker still sends the e-mails of a loaded round measures
    that round, not the path."""
    from django_tasks_db.models import DBTaskResult

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = DBTaskResult.objects.ready().exists()
        busy_before, total_before = procs.machine_cpu()
        time.sleep(0.5)
        busy_after, total_after = procs.machine_cpu()
        if not waiting and (busy_after - busy_before) / (total_after - total_before) < quiet:
            return


def unloaded(
    sides: dict[str, tuple[list[procs.Proc], list[Request]]], *, blocks: int = 4
) -> dict[str, LoadResult]:
    """One request at a time on each side, after ``settle``, in ``blocks`` interleaved blocks
    (side A, side B, side A, ...), so that a slow second of the machine hits every side; returns
    each side's requests merged, with how busy the machine's cores were meanwhile."""
    settle()
    merged = {name: LoadResult() for name in sides}
    busy = {name: 0.0 for name in sides}
    for block in range(blocks):
        for name, (servers, requests) in sides.items():
            result, _ = measure(servers, requests[block::blocks], concurrency=1)
            busy[name] += result.machine_busy * result.seconds
            # The blocks ran one after another: their times add up.
            merged[name].add(result, seconds=merged[name].seconds + result.seconds)
    for name, result in merged.items():
        result.machine_busy = busy[name] / max(1e-9, result.seconds)
    return merged


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def json_post(path: str, body: dict, headers: dict | None = None) -> Request:
    return (
        "POST",
        path,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


def get(path: str, headers: dict | None = None) -> Request:
    return ("GET", path, headers or {}, b"")


def webhook_body(payment_id: str) -> dict:
    return {
        "action": "completed",
        "resourceType": "Payment",
        "resourceId": payment_id,
        "eventId": str(uuid.uuid4()),
    }


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of values sorted in ascending order, by the nearest rank."""
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def pay_one_by_one(
    store: procs.Proc, paying: list
) -> tuple[dict[str, float], dict[str, float]]:
    """The webhook of each ``(order, banq payment id)`` to ``store``, one every 20 ms on one
    connection: when each was sent and when its answer came, by the order's public id."""
    from bench.client import Connection

    hook = f"/webhooks/banq/{procs.WEBHOOK_TOKEN}/payment-status/"
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    conn = Connection("127.0.0.1", store.port)
    for order, pid in paying:
        sent[str(order.public_id)] = time.perf_counter()
        status, _ = await conn.request(
            "POST",
            hook,
            {"Content-Type": "application/json"},
            json.dumps(webhook_body(pid)).encode(),
        )
        assert status == 200, status
        answered[str(order.public_id)] = time.perf_counter()
        await asyncio.sleep(0.02)  # payments arrive one by one
    await conn.close()
    return sent, answered


class Bench:
    def __init__(self, *, quick: bool, db: str, workers: int, profile: str = "quiet") -> None:
        self.quick = quick
        self.db = db
        self.workers = workers
        self.profile = profile
        procs.MEASURE_DATABASE_CPU = db == "postgres"
        self.out: list[str] = []
        self.results: dict = {"db": db, "workers": workers, "quick": quick, "profile": profile}
        self.stack = ExitStack()
        self._stock: procs.Proc | None = None

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.out.append(text)

    # --- set-up --------------------------------------------------------------------------------

    def start(self) -> None:
        database = procs.database_url(self.db)
        self.emulator = procs.start_emulator(self.profile)
        self.stack.callback(self.emulator.stop)
        # The store's URL is only used in e-mails here; any value does.
        self.env = procs.base_env(
            database=database,
            redis=self.db == "postgres",
            emulator_url=self.emulator.url,
            store_url="http://127.0.0.1:8000",
            profile=self.profile,
        )
        procs.migrate(self.env)
        os.environ.update(self.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "storefront.settings"
        import django

        django.setup()
        from bench.data import Emulator

        self.banq = Emulator(self.emulator.url)
        self.tokens_at_start = self.banq.tokens_issued()
        self.stores = [procs.start_store(self.env, f"store{i + 1}") for i in range(self.workers)]
        for store in self.stores:
            self.stack.callback(store.stop)
        self.probe = procs.start_probe(self.env, self.banq.token)
        self.stack.callback(self.probe.stop)
        # The task worker runs beside the store as under `make run` (it sends the e-mails); the
        # rounds that count it wait until it is done (``Accounting``).
        self.worker = procs.start_worker(self.env)
        self.stack.callback(self.worker.stop)
        self.accounting = Accounting(emulator=self.emulator, worker=self.worker)

    @property
    def stock(self) -> procs.Proc:
        """The stock server (Django's handler and middleware), started when first needed."""
        if self._stock is None:
            self._stock = procs.start_stock(self.env)
            self.stack.callback(self._stock.stop)
        return self._stock

    def stop(self) -> None:
        self.stack.close()

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    # --- scenarios -----------------------------------------------------------------------------

    def floor(self) -> None:
        n = self.size(3000, 400)
        figures = interleave(
            {
                "bare JSON, Django's stock handler and middleware": (
                    [self.stock],
                    lambda _: [get("/stock/bare")] * n,
                ),
                "bare JSON, the store's handler and middleware": (
                    self.stores[:1],
                    lambda _: [get("/_bench/bare")] * n,
                ),
                "bare JSON, the probe server (the store's stack)": (
                    [self.probe],
                    lambda _: [get("/probe/bare")] * n,
                ),
                "emulator GET /payments/{id}": (
                    [self.emulator],
                    lambda _: (
                        [
                            get(
                                f"/api/v1/payments/{self.floor_payment}",
                                {"Authorization": f"Bearer {self.banq.token}"},
                            )
                        ]
                        * n
                    ),
                ),
            }
        )
        stock = figures["bare JSON, Django's stock handler and middleware"]
        ours = figures["bare JSON, the store's handler and middleware"]
        probe = figures["bare JSON, the probe server (the store's stack)"]
        self.say(
            table(
                f"Baselines (32 concurrent, median of 3 rounds; {self.profile} profile)",
                ["path", "rate", "CPU/req", "p50", "p99", "non-2xx"],
                [f.row() for f in figures.values()],
            )
        )
        emulator = figures["emulator GET /payments/{id}"]
        self.say(
            f"  the framework floor, the store's stack / Django's stock: "
            f"{ratio(ours.rate, stock.rate)} (target >= 1.3x); the probe server / the store: "
            f"{ratio(probe.rate, ours.rate)} (the same stack: about 1x)"
        )
        self.say(
            f"  the emulator serves {emulator.rate:,.0f} GET /payments/{{id}} per s (>= 2,000)"
        )
        self.say()
        self.results["floor"] = {k: vars(v) for k, v in figures.items()}

    def webhooks(self) -> None:
        from bench.data import paid_at_banq

        n = self.size(800, 120)
        two = len(self.stores) > 1
        sets_needed = ROUNDS * (3 if two else 2)
        self.say(f"Preparing {n * sets_needed} orders paid at banq ...")
        store_sets = [paid_at_banq(self.banq, n) for _ in range(ROUNDS)]
        probe_sets = [paid_at_banq(self.banq, n) for _ in range(ROUNDS)]
        one_sets = [paid_at_banq(self.banq, n) for _ in range(ROUNDS)] if two else []
        hook = f"/webhooks/banq/{procs.WEBHOOK_TOKEN}/payment-status/"
        paths = {
            "webhook, the store": (
                self.stores,
                lambda r: [json_post(hook, webhook_body(pid)) for _, pid in store_sets[r]],
            ),
            "webhook, minimal probe": (
                [self.probe],
                lambda r: [
                    json_post("/probe/webhook", webhook_body(pid)) for _, pid in probe_sets[r]
                ],
            ),
        }
        if two:
            paths["webhook, the store, one worker"] = (
                self.stores[:1],
                lambda r: [json_post(hook, webhook_body(pid)) for _, pid in one_sets[r]],
            )
        output = self.output_bytes()
        figures = interleave(
            paths,
            accounting=self.accounting,
            worker_paths=("webhook, the store", "webhook, the store, one worker"),
        )
        output = (self.output_bytes() - output) / (n * ROUNDS * (2 if two else 1))
        from orders.models import Order

        paid = Order.objects.filter(
            pk__in=[o.pk for batch in store_sets for o, _ in batch], status="paid"
        ).count()
        dup_n = self.size(3000, 300)
        dup, probe_dup = self.duplicates(store_sets[0][0][1], probe_sets[0][0][1], dup_n)
        # Unloaded acknowledgement: one client, fresh events, once the machine is quiet.
        solo_set = paid_at_banq(self.banq, self.size(200, 60))
        solo = unloaded(
            {"store": (self.stores[:1], [json_post(hook, webhook_body(p)) for _, p in solo_set])}
        )["store"]
        self.report_webhooks(
            figures, dup, probe_dup, solo, output=output, paid=f"{paid} of {n * ROUNDS}"
        )
        one = figures.get("webhook, the store, one worker")
        store = figures["webhook, the store"]
        self.results["webhooks"] = {
            "store": vars(store),
            "probe": vars(figures["webhook, minimal probe"]),
            "duplicates": vars(dup),
            "probe_duplicates": vars(probe_dup),
            "one_worker": vars(one) if one else None,
            "unloaded_p50_ms": solo.p50 * 1000,
            "worker_cpu_ms_per_paid_order": store.worker_ms,
            "output_bytes_per_request": output,
            "paid": paid,
            "ordered": n * ROUNDS,
            # Every delivery the store answered under load, and how many were not 2xx.
            "deliveries": n * ROUNDS * (2 if one else 1) + dup_n,
            "non_2xx": sum(f.non_2xx for f in [store, dup] + ([one] if one else [])),
        }

    def output_bytes(self) -> int:
        """What the store's, the probe's and the worker's pipes carried so far (`run` profile)."""
        return sum(p.output.bytes for p in (*self.stores, self.probe, self.worker) if p.output)

    def cost_table(self, title: str, shown: list[Figure]) -> None:
        db = self.db == "postgres"
        self.say(table(title, cost_header(db=db), [f.cost_row(db=db) for f in shown]))
        self.say(
            "  CPU per request in ms, by process: the server (the store's or the probe's), the "
            "task worker (until it has run the round's tasks; idle: it had none), the emulator"
            + (", PostgreSQL's backends" if db else "")
            + "; total: their sum"
        )

    def report_webhooks(
        self,
        figures: dict[str, Figure],
        dup: Figure,
        probe_dup: Figure,
        solo: LoadResult,
        *,
        output: float,
        paid: str,
    ) -> None:
        store, probe = figures["webhook, the store"], figures["webhook, minimal probe"]
        one = figures.get("webhook, the store, one worker")
        shown = [store, *([one] if one else []), probe]
        self.cost_table(
            f"Webhook end to end ({self.db}, {len(self.stores)} store worker(s), "
            f"{self.profile} profile; the probe on the store's handler and middleware)",
            shown,
        )
        self.say(
            "  e-mail: the store sends one per paid order from its task worker, the probe one "
            "in the request, through the same backend"
            + (f"; {output:,.0f} bytes of output per webhook to the pipes" if output else "")
        )
        if one:
            self.say(
                f"  two store workers / one: store CPU per request "
                f"{ratio(store.cpu_ms, one.cpu_ms)} (target <= 1.1x), every process "
                f"{ratio(store.total_ms, one.total_ms)}, rate {ratio(store.rate, one.rate)}; "
                f"the machine's {os.cpu_count()} cores were {one.machine_busy:.0%} busy with one "
                f"store worker, {store.machine_busy:.0%} with two"
            )
        self.say(
            f"  store / probe: rate {ratio(store.rate, probe.rate)} (target >= 0.9x), "
            f"CPU of every process {ratio(store.total_ms, probe.total_ms)} (<= 1.2x; the "
            f"server alone {ratio(store.cpu_ms, probe.cpu_ms)}), "
            f"p99 {ratio(store.p99_ms, probe.p99_ms)} (<= 1.5x); the cores were "
            f"{store.machine_busy:.0%} busy in the store's rounds, {probe.machine_busy:.0%} in "
            f"the probe's (the idle worker: {probe.worker_ms:.2f} ms per request)"
        )
        self.say(
            table(
                "  the same event again and again (a duplicate: answered from the stored event)",
                ["path", "rate", "CPU/req", "p50", "p99", "non-2xx"],
                [f.row() for f in (dup, probe_dup)],
            )
        )
        self.say(
            f"  unloaded acknowledgement p50 {solo.p50 * 1000:.1f} ms (target <= 15 ms; "
            f"{len(solo.latencies)} one at a time, cores {solo.machine_busy:.0%} busy); "
            f"{paid} orders paid; duplicates answered {dict(dup_status(dup))}"
        )
        self.say()

    def duplicates(self, store_id: str, probe_id: str, n: int) -> tuple[Figure, Figure]:
        """The same event ``n`` times, to the store and to the probe: recorded as duplicates."""
        hook = f"/webhooks/banq/{procs.WEBHOOK_TOKEN}/payment-status/"
        store = figure(
            "the same event, the store",
            [measure(self.stores, [json_post(hook, webhook_body(store_id))] * n)],
        )
        probe = figure(
            "the same event, probe",
            [measure([self.probe], [json_post("/probe/webhook", webhook_body(probe_id))] * n)],
        )
        return store, probe

    def links(self) -> None:
        from bench.data import csrf_token, order_batch, owner_sessions

        n = self.size(1000, 120)
        self.say(f"Preparing {n * ROUNDS * 2} fresh orders ...")
        token = csrf_token()
        # Pending, as checkout leaves them: the link moves each to awaiting_payment.
        store_orders = [order_batch(n, status="pending") for _ in range(ROUNDS)]
        store_sessions = [owner_sessions(batch) for batch in store_orders]
        probe_orders = [order_batch(n) for _ in range(ROUNDS)]

        def store_requests(r: int) -> list[Request]:
            return [
                json_post(
                    "/generate-payment-link",
                    {"orderId": str(order.public_id)},
                    {"Cookie": f"sessionid={key}; csrftoken={token}", "X-CSRFToken": token},
                )
                for order, key in zip(store_orders[r], store_sessions[r], strict=True)
            ]

        figures = interleave(
            {
                "payment link, the store": (self.stores, store_requests),
                "payment link, minimal probe": (
                    [self.probe],
                    lambda r: [
                        json_post("/probe/link", {"orderId": str(o.public_id)})
                        for o in probe_orders[r]
                    ],
                ),
            },
            accounting=self.accounting,
            worker_paths=("payment link, the store",),
        )
        store, probe = figures["payment link, the store"], figures["payment link, minimal probe"]
        solo, direct = self.links_unloaded(token)
        tokens = self.store_tokens()
        self.cost_table(
            f"POST /generate-payment-link, fresh orders ({self.db}, {self.profile} profile; the "
            "probe on the store's handler and middleware)",
            [store, probe],
        )
        self.say(
            "  e-mail: none on either side (the store's worker sends the order's status signals)"
        )
        overhead = (solo.p50 - direct.p50) * 1000
        self.say(
            f"  store / probe: rate {ratio(store.rate, probe.rate)} (target >= 0.9x), "
            f"CPU of every process {ratio(store.total_ms, probe.total_ms)} (the server alone "
            f"{ratio(store.cpu_ms, probe.cpu_ms)}), "
            f"p99 {ratio(store.p99_ms, probe.p99_ms)} (<= 2x); unloaded overhead over the direct "
            f"emulator call p50 {overhead:.1f} ms (<= 6 ms; {len(solo.latencies)} one at a "
            f"time, interleaved with as many direct calls, cores {solo.machine_busy:.0%} busy)"
        )
        self.say(
            f"  the emulator's own get-paid-link, unloaded: p50 {direct.p50 * 1000:.1f} ms "
            f"(an idle call < 2 ms); token requests from the store (all its processes) since "
            f"the run started: {tokens} (exactly 1)"
        )
        self.say()
        self.results["links"] = {
            "store": vars(store),
            "probe": vars(probe),
            "overhead_ms": overhead,
            "direct_p50_ms": direct.p50 * 1000,
            "tokens": tokens,
        }

    def links_unloaded(self, token: str) -> tuple[LoadResult, LoadResult]:
        """The store's link against the emulator's own get-paid-link, one at a time, in
        interleaved blocks once the machine is quiet."""
        from bench.data import order_batch, owner_sessions

        solo_n = self.size(200, 60)
        solo_orders = order_batch(solo_n, status="pending")
        solo_sessions = owner_sessions(solo_orders)
        direct_orders = order_batch(solo_n)
        quiet = unloaded(
            {
                "store": (
                    self.stores[:1],
                    [
                        json_post(
                            "/generate-payment-link",
                            {"orderId": str(o.public_id)},
                            {"Cookie": f"sessionid={k}; csrftoken={token}", "X-CSRFToken": token},
                        )
                        for o, k in zip(solo_orders, solo_sessions, strict=True)
                    ],
                ),
                "direct": (
                    [self.emulator],
                    [
                        (
                            "POST",
                            "/api/v1/payments/get-paid-link",
                            {
                                "Authorization": f"Bearer {self.banq.token}",
                                "Content-Type": "application/json",
                            },
                            self.banq.link_body(o).encode(),
                        )
                        for o in direct_orders
                    ],
                ),
            }
        )
        return quiet["store"], quiet["direct"]

    def pages(self) -> None:
        from bench.data import order_batch, owner_sessions
        from orders.models import Product

        Product.objects.bulk_create(
            Product(name=f"Product {i:04d}", slug=f"bench-{i:04d}", price="9.90") for i in range(10)
        )
        (order,) = order_batch(1)
        (key,) = owner_sessions([order])
        from orders.access import order_access_key

        access = order_access_key(order=order)
        n = self.size(2000, 250)
        cookie = {"Cookie": f"sessionid={key}"}
        status = f"/orders/{order.public_id}/status"
        figures = interleave(
            {
                "bare JSON, Django's stock handler and middleware": (
                    [self.stock],
                    lambda _: [get("/stock/bare")] * n,
                ),
                "catalog /": (self.stores[:1], lambda _: [get("/")] * n),
                "product page": (self.stores[:1], lambda _: [get("/products/bench-0001/")] * n),
                "cart /cart/": (self.stores[:1], lambda _: [get("/cart/", cookie)] * n),
                "order status JSON": (self.stores[:1], lambda _: [get(status, cookie)] * n),
                "order status ?key=, no cookie": (
                    self.stores[:1],
                    lambda _: [get(f"{status}?key={access}")] * n,
                ),
            }
        )
        stock = figures["bare JSON, Django's stock handler and middleware"]
        self.say(
            table(
                "Pages (32 concurrent, 10 products)",
                ["path", "rate", "CPU/req", "p50", "p99", "non-2xx"],
                [f.row() for f in figures.values()],
            )
        )
        for name in ("catalog /", "order status JSON"):
            self.say(
                f"  {name} / stock bare view: {ratio(figures[name].rate, stock.rate)} (>= 0.7x)"
            )
        self.say()
        self.results["pages"] = {k: vars(v) for k, v in figures.items()}

    def queries(self) -> None:
        """Queries per page with 10 and with 1,000 products or lines (Django's test client, in
        this process, on the same database)."""
        from django.contrib.sessions.backends.db import SessionStore
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from orders.access import order_access_key, session_grant_order
        from orders.models import Cart, CartItem, Order, OrderItem, Product

        rows = []
        counts: dict[str, dict[int, int]] = {}
        writes: dict[str, dict[int, int]] = {}
        for size in (10, 1000):
            tag = f"q{size}"
            products = Product.objects.bulk_create(
                Product(name=f"{tag} product {i:04d}", slug=f"{tag}-{i:04d}", price="2.50")
                for i in range(size)
            )
            Product.objects.exclude(slug__startswith=tag).update(is_active=False)
            session = SessionStore()
            session.create()
            cart = Cart.objects.create(session_key=session.session_key)
            CartItem.objects.bulk_create(CartItem(cart=cart, product=p) for p in products)
            order = Order.objects.create(
                number=f"BN-{tag.upper()}-{uuid.uuid4().hex[:6]}",
                email="q@example.com",
                name="Q",
                subtotal=Decimal("2.50") * size,
                total=Decimal("2.50") * size,
            )
            OrderItem.objects.bulk_create(
                OrderItem(
                    order=order,
                    product=p,
                    product_name=p.name,
                    unit_price=p.price,
                    quantity=1,
                    line_total=p.price,
                )
                for p in products
            )
            session_grant_order(session=session, order=order)
            session.save()
            client = Client()
            client.cookies["sessionid"] = session.session_key
            key = order_access_key(order=order)
            pages = {
                "catalog /": "/",
                "product page": f"/products/{tag}-0001/",
                "cart /cart/": "/cart/",
                "order page": f"/orders/{order.public_id}/",
                "order status JSON": f"/orders/{order.public_id}/status",
                "order status ?key=, no cookie": f"/orders/{order.public_id}/status?key={key}",
                "order page ?key=, granted before": f"/orders/{order.public_id}/?key={key}",
            }
            for name, url in pages.items():
                visitor = Client() if "no cookie" in name else client
                visitor.get(url)  # warm (a first visit may grant or create things)
                with CaptureQueriesContext(connection) as captured:
                    response = visitor.get(url)
                assert response.status_code == 200, (name, response.status_code)
                counts.setdefault(name, {})[size] = len(captured.captured_queries)
                writes.setdefault(name, {})[size] = sum(
                    q["sql"].lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
                    for q in captured.captured_queries
                )
        for name, by_size in counts.items():
            same = "same" if by_size[10] == by_size[1000] else "GROWS"
            rows.append([name, str(by_size[10]), str(by_size[1000]), same, str(writes[name][1000])])
        Product.objects.update(is_active=True)
        self.say(
            table(
                "Queries per page (with 10 and with 1,000 products or lines)",
                ["page", "at 10", "at 1,000", "", "writes"],
                rows,
            )
        )
        self.say("  (a repeat visit; a signed ?key= visit that grants nothing new writes nothing)")
        self.say()
        self.results["queries"] = counts
        self.results["query_writes"] = writes

    def sockets(self) -> None:
        """1,000 idle order pages with their WebSocket open while payments complete."""
        import websockets

        from bench.data import paid_at_banq
        from orders.access import order_access_key

        total = self.size(1000, 300)
        payments = self.size(100, 40)
        self.say(f"Preparing {total} open orders ({payments} of them paid at banq) ...")
        paying = paid_at_banq(self.banq, payments)
        idle = paid_at_banq(self.banq, total - payments, complete=False)
        orders = [o for o, _ in paying] + [o for o, _ in idle]
        socket_store = self.stores[0]
        hook_store = self.stores[-1]  # another worker when there are two: the push crosses over
        received: dict[str, float] = {}

        async def scenario() -> dict:
            rss_before = socket_store.rss()
            opened = []
            cpu_at_start = socket_store.cpu()
            started = time.perf_counter()
            semaphore = asyncio.Semaphore(CONCURRENCY)

            async def connect(order):
                url = (
                    f"ws://127.0.0.1:{socket_store.port}/ws/orders/{order.public_id}/"
                    f"?key={order_access_key(order=order)}"
                )
                async with semaphore:
                    ws = await websockets.connect(url, open_timeout=30, max_queue=None)
                    first = json.loads(await ws.recv())
                    assert first["status"] == "awaiting_payment", first
                opened.append(ws)

                async def listen() -> None:
                    async for message in ws:
                        if json.loads(message).get("paid"):
                            received[str(order.public_id)] = time.perf_counter()

                return asyncio.ensure_future(listen())

            listeners = await asyncio.gather(*(connect(o) for o in orders))
            connect_rate = len(orders) / (time.perf_counter() - started)
            connect_cpu_ms = (socket_store.cpu() - cpu_at_start) / len(orders) * 1000
            rss = socket_store.rss() - rss_before
            idle_s = self.size(10, 5)
            cpu_before = socket_store.cpu()
            await asyncio.sleep(idle_s)
            idle_share = (socket_store.cpu() - cpu_before) / idle_s
            sent, answered = await pay_one_by_one(hook_store, paying)
            deadline = time.monotonic() + 10
            while len(received) < len(paying) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            for ws in opened:
                await ws.close()
            for task in listeners:
                task.cancel()
            # The push leaves before the answer is written, so a socket can hear "paid" before
            # the webhook's client has its answer: counted as 0.
            latencies = [max(0.0, received[k] - answered[k]) for k in answered if k in received]
            from_sent = [received[k] - sent[k] for k in sent if k in received]
            return {
                "connect_rate": connect_rate,
                "connect_cpu_ms": connect_cpu_ms,
                "rss_per_1000_mb": rss / len(orders) * 1000 / 2**20,
                "idle_core_share": idle_share,
                "latencies": latencies,
                "from_sent": from_sent,
                "lost": len(answered) - len(latencies),
            }

        self.report_sockets(asyncio.run(scenario()), total=total, paying=len(paying))

    def report_sockets(self, result: dict, *, total: int, paying: int) -> None:
        lat = sorted(result["latencies"])
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p99 = percentile(lat, 0.99) * 1000 if lat else float("nan")
        crossing = " (webhook on worker 2, sockets on worker 1)" if len(self.stores) > 1 else ""
        self.say(f"Webhook to the shopper's socket, {total} open sockets{crossing}")
        self.say(
            f"  webhook answer -> socket 'paid': p50 {p50:.1f} ms (<= 15), p99 {p99:.1f} ms "
            f"(<= 25), lost {result['lost']} of {paying}"
        )
        sent = sorted(result["from_sent"])
        if sent:
            self.say(
                f"  webhook sent -> socket 'paid' (the whole webhook included): p50 "
                f"{statistics.median(sent) * 1000:.1f} ms, p99 "
                f"{percentile(sent, 0.99) * 1000:.1f} ms"
            )
        self.say(
            f"  connects {result['connect_rate']:,.0f}/s (>= 500; the store's CPU "
            f"{result['connect_cpu_ms']:.2f} ms per connect), memory "
            f"{result['rss_per_1000_mb']:.0f} MB per 1,000 sockets, idle "
            f"{result['idle_core_share'] * 100:.1f}% of a core (< 5%)"
        )
        self.say()
        self.results["sockets"] = {
            **result,
            "p50_ms": p50,
            "p99_ms": p99,
            "latencies": None,
            "from_sent": None,
        }

    def sweep(self) -> None:
        """What the worker's sweep costs: banq calls and CPU per 1,000 open attempts."""
        from django.conf import settings
        from django.utils import timezone

        from banq.models import BanqPayment
        from banq.settings import banq_settings
        from banq.tasks import banq_sweep
        from bench.data import paid_at_banq

        n = self.size(1000, 200)
        self.say(f"Preparing {n} open payment attempts, all due ...")
        batch = paid_at_banq(self.banq, n, complete=False)
        ids = [pid for _, pid in batch]
        BanqPayment.objects.filter(banq_payment_id__in=ids).update(
            next_check_at=timezone.now(), check_anchor_at=timezone.now()
        )
        cap = banq_settings().sweep_max_calls_per_minute
        settings.BANQ_SWEEP_MAX_CALLS_PER_MINUTE = 10**6  # all of them in one go, to time it
        banq_settings.cache_clear()
        cpu = time.process_time()
        wall = time.perf_counter()
        while BanqPayment.objects.filter(
            banq_payment_id__in=ids, next_check_at__lte=timezone.now()
        ).exists():
            banq_sweep.call()
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        checks = sum(
            BanqPayment.objects.filter(banq_payment_id__in=ids).values_list(
                "check_count", flat=True
            )
        )
        config = banq_settings()
        schedule = config.sweep_schedule
        later = (config.sweep_horizon - schedule[-1]) // config.sweep_every if schedule else 0
        per_day = len(schedule) + later
        self.say(f"The sweep, {n} open attempts due at once")
        self.say(
            f"  {checks} banq calls, worker CPU {cpu / checks * 1000:.1f} ms per call "
            f"({cpu / checks * 1000 * 1000 / 1000:.0f} s per 1,000), {checks / wall:.0f} calls/s; "
            f"on the default schedule each open link costs {per_day} calls in its first "
            f"{config.sweep_horizon.total_seconds() / 3600:g} h, capped at "
            f"{cap} calls/minute overall"
        )
        self.say()
        self.results["sweep"] = {"checks": checks, "cpu_s": cpu, "calls_per_link_per_day": per_day}

    def store_tokens(self) -> int:
        """Token requests the emulator answered since the run started: the store's (its web
        processes, the task worker and this process, which runs the sweep, share one)."""
        return self.banq.tokens_issued() - self.tokens_at_start

    def run(self, only: list[str]) -> None:
        self.start()
        try:
            self.floor_payment = self.banq.link(__import__("bench.data").data.order_batch(1)[0])[
                "id"
            ]
            for name in ("floor", "webhooks", "links", "pages", "queries", "sockets", "sweep"):
                if not only or name in only:
                    started = time.monotonic()
                    getattr(self, name)()
                    self.say(f"  ({name}: {time.monotonic() - started:.0f} s)")
                    self.say()
            self.results["tokens"] = self.store_tokens()
            self.say(f"Token requests from the store during the run: {self.results['tokens']}")
        finally:
            self.stop()
        procs.RESULTS.mkdir(parents=True, exist_ok=True)
        path = summary.results_path(self.db, self.workers, self.profile)
        path.write_text(json.dumps({**self.results, "text": self.out}, indent=2, default=str))
        self.say(f"Results: {path.relative_to(procs.BASE_DIR)}")


def dup_status(figure: Figure) -> dict:
    return {"non-2xx": figure.non_2xx}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (about 3 minutes)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--profile",
        choices=procs.PROFILES,
        default="quiet",
        help="run: as `make run` runs the store (INFO logs, console e-mail, output to a pipe); "
        "quiet: warnings only, no e-mail output, output discarded",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        help="floor webhooks links pages queries sockets sweep; or scale alone (a year of "
        "orders, bench/scale.py; --scale runs it on SQLite, then PostgreSQL)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every profile of bench.summary.PLAN, each in its own process, then the targets",
    )
    parser.add_argument("--summary", action="store_true", help="the targets of the latest results")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary.summary())
        return 0
    if args.all:
        return run_plan(quick=args.quick)
    Bench(quick=args.quick, db=args.db, workers=args.workers, profile=args.profile).run(args.only)
    return 0


def run_plan(*, quick: bool) -> int:
    """``make bench``: the profiles one after another, then the targets."""
    started = time.monotonic()
    failed = []
    for db, workers, profile, only in summary.PLAN:
        summary.results_path(db, workers, profile).unlink(missing_ok=True)
        title = (
            f"{db}, {workers} store worker(s), {profile} profile: {' '.join(only) or 'every path'}"
        )
        print(f"=== {title} ===", flush=True)
        if db == "postgres" and (problem := procs.production_services_missing()):
            print(f"skipped: {problem}\n", flush=True)
            failed.append(title)
            continue
        command = [sys.executable, "-m", "bench", "--db", db, "--workers", str(workers)]
        command += ["--profile", profile]
        command += (["--quick"] if quick else []) + (["--only", *only] if only else [])
        if subprocess.run(command, cwd=procs.BASE_DIR).returncode != 0:
            failed.append(title)
        print(flush=True)
    text = summary.summary()
    minutes = (time.monotonic() - started) / 60
    text += f"\n  ({'quick, ' if quick else ''}{minutes:.1f} minutes in all)"
    if failed:
        text += "\n  not run or failed: " + "; ".join(failed)
    print(text)
    (procs.RESULTS / "summary.txt").write_text(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

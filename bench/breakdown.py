"""Where a webhook's and a payment link's CPU goes, the store's against its probe's, in one process.

    python -m bench.breakdown [--db sqlite|postgres] [-n 300]

The load figures of ``python -m bench`` say how much each path costs; this says where. It starts
the emulator, makes a fresh database, and sends ``n`` webhooks and ``n`` links through Django's
test client (the store's middleware, its URLs or the probe's), one at a time in this process,
timing with ``time.process_time``:

- the whole request (the test client's own share is the same on both sides);
- each SQL statement (``connection.execute_wrapper``: the driver and the database engine; the
  ORM's compiling of the statement is not inside it);
- each HTTP call to banq (``requests.Session.send``);
- the push to the order's open pages (``push_status``; here, outside a server's event loop,
  ``async_to_sync`` starts a thread for it, which the server does not: read it as an upper bound);
- the rest: Django, the middleware, the view, the services, the ORM's Python.

Then it runs the tasks the store's requests enqueued (``tasks_run_ready``, what the worker does)
and times them the same way. It prints the statements of one store request of each path.

``--profile N`` also runs the store's requests under ``cProfile`` and prints, for each path, the
``N`` functions with the most CPU of their own (the test client's share included: read the
store's functions).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from bench import procs


@dataclass
class Tally:
    """CPU seconds and counts over some requests."""

    requests: int = 0
    cpu: float = 0.0
    statements: int = 0
    sql_cpu: float = 0.0
    http_calls: int = 0
    http_cpu: float = 0.0
    push_cpu: float = 0.0
    last_statements: list[str] = field(default_factory=list)
    profile: cProfile.Profile | None = None

    def row(self, name: str) -> list[str]:
        n = max(1, self.requests)
        rest = self.cpu - self.sql_cpu - self.http_cpu - self.push_cpu
        return [
            name,
            f"{self.cpu / n * 1000:.2f}",
            f"{self.statements / n:.1f}",
            f"{self.sql_cpu / n * 1000:.2f}",
            f"{self.http_cpu / n * 1000:.2f}",
            f"{self.push_cpu / n * 1000:.2f}",
            f"{rest / n * 1000:.2f}",
        ]


HEADER = ["ms of CPU per request", "all", "statements", "SQL", "banq HTTP", "push", "the rest"]


@contextmanager
def tallied(tally: Tally):
    """Count into ``tally`` the CPU, the statements and the banq calls of the block."""
    import requests
    from django.db import connection

    from orders import notifications

    def wrapper(execute, sql, params, many, context):
        started = time.process_time()
        try:
            return execute(sql, params, many, context)
        finally:
            tally.sql_cpu += time.process_time() - started
            tally.statements += 1
            tally.last_statements.append(" ".join(sql.split()[:6]))

    original = requests.Session.send

    def send(self, request, **kwargs):
        started = time.process_time()
        try:
            return original(self, request, **kwargs)
        finally:
            tally.http_cpu += time.process_time() - started
            tally.http_calls += 1

    push = notifications.push_status

    def push_status(**kwargs):
        started = time.process_time()
        try:
            return push(**kwargs)
        finally:
            tally.push_cpu += time.process_time() - started

    requests.Session.send = send
    notifications.push_status = push_status
    started = time.process_time()
    try:
        with connection.execute_wrapper(wrapper):
            yield
    finally:
        tally.cpu += time.process_time() - started
        requests.Session.send = original
        notifications.push_status = push


def one_by_one(tally: Tally, requests_: list, *, urlconf: str | None = None) -> None:
    """Send ``(path, body, cookies)`` one at a time through Django's test client."""
    from django.test import Client
    from django.test.utils import override_settings

    with ExitStack() as stack:
        if urlconf:
            stack.enter_context(override_settings(ROOT_URLCONF=urlconf))
        # One client for the batch: a client per request would load the middleware each time.
        client = Client(HTTP_HOST="127.0.0.1")
        for path, body, cookies, headers in requests_:
            client.cookies.clear()
            client.cookies.load(cookies)
            tally.last_statements = []
            with tallied(tally):
                if tally.profile is not None:
                    tally.profile.enable()
                try:
                    response = client.post(
                        path, json.dumps(body), content_type="application/json", **headers
                    )
                finally:
                    if tally.profile is not None:
                        tally.profile.disable()
            assert response.status_code == 200, (path, response.status_code, response.content)
            tally.requests += 1


def run_tasks(tally: Tally) -> None:
    from storefront.worker import tasks_run_ready

    with tallied(tally):
        tally.requests += tasks_run_ready(max_tasks=100_000)


def top_functions(profile: cProfile.Profile, count: int) -> str:
    """The ``count`` functions with the most CPU of their own, then the store's own functions
    (its apps) with the most CPU under them."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(count)
    stats.sort_stats("cumulative").print_stats(r"/(orders|banq|webhooks|storefront)/", count)
    return out.getvalue()


def webhooks(banq, n: int, *, profile: bool = False) -> dict[str, Tally]:
    from bench.data import paid_at_banq
    from bench.run import webhook_body

    hook = f"/webhooks/banq/{procs.WEBHOOK_TOKEN}/payment-status/"
    store, probe, worker = Tally(), Tally(), Tally()
    store.profile = cProfile.Profile(time.process_time) if profile else None
    for _half in range(2):  # interleaved halves
        batch = paid_at_banq(banq, n // 2)
        one_by_one(store, [(hook, webhook_body(pid), {}, {}) for _, pid in batch])
        run_tasks(worker)
        batch = paid_at_banq(banq, n // 2)
        one_by_one(
            probe,
            [("/probe/webhook", webhook_body(pid), {}, {}) for _, pid in batch],
            urlconf="bench.probe.urls",
        )
    return {"webhook, the store": store, "  its tasks (worker)": worker, "webhook, probe": probe}


def links(n: int, *, profile: bool = False) -> dict[str, Tally]:
    from bench.data import csrf_token, order_batch, owner_sessions

    token = csrf_token()
    store, probe, worker = Tally(), Tally(), Tally()
    store.profile = cProfile.Profile(time.process_time) if profile else None
    for _half in range(2):
        orders = order_batch(n // 2, status="pending")
        keys = owner_sessions(orders)
        one_by_one(
            store,
            [
                (
                    "/generate-payment-link",
                    {"orderId": str(o.public_id)},
                    f"sessionid={k}; csrftoken={token}",
                    {"HTTP_X_CSRFTOKEN": token},
                )
                for o, k in zip(orders, keys, strict=True)
            ],
        )
        run_tasks(worker)
        one_by_one(
            probe,
            [("/probe/link", {"orderId": str(o.public_id)}, {}, {}) for o in order_batch(n // 2)],
            urlconf="bench.probe.urls",
        )
    return {"link, the store": store, "  its tasks (worker)": worker, "link, probe": probe}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the N costliest functions"
    )
    args = parser.parse_args()
    emulator = procs.start_emulator()
    try:
        env = procs.base_env(
            database=procs.database_url(args.db),
            redis=args.db == "postgres",
            emulator_url=emulator.url,
            store_url="http://127.0.0.1:8000",
        )
        procs.migrate(env)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.store_settings"
        os.environ["BENCH_PROBE_TOKEN"] = ""
        import django

        django.setup()
        from bench.data import Emulator
        from bench.run import table

        banq = Emulator(emulator.url)
        os.environ["BENCH_PROBE_TOKEN"] = banq.token
        profile = args.profile > 0
        tallies = {**webhooks(banq, args.n, profile=profile), **links(args.n, profile=profile)}
        rows = [t.row(name) for name, t in tallies.items()]
        print(table(f"CPU per request in this process ({args.db})", HEADER, rows))
        for name in ("webhook, the store", "link, the store"):
            kinds = Counter(s.split(" ", 1)[0] for s in tallies[name].last_statements)
            print(f"\n{name}, one request: {dict(kinds)}")
            print("\n".join(f"  {s}" for s in tallies[name].last_statements))
            if tallies[name].profile is not None:
                print(f"\n{name}, its {args.profile} costliest functions (own CPU):")
                print(top_functions(tallies[name].profile, args.profile))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()

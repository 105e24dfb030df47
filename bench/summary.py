"""The targets of the Benchmarks issue, checked against the latest results of each profile.

``python -m bench --all`` runs the profiles one after another (each in its own process: a profile
is its own Django configuration), then prints this summary and writes it to
``bench/results/summary.txt``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs

# (database, store workers, profile, scenarios): SQLite runs everything quiet, and the webhook
# and the link again as `make run` runs them (its logging, console e-mail, output to a pipe);
# the production profile (PostgreSQL + Redis) runs the paths its targets name, with one store
# worker and with two (the socket push then crosses from one worker to the other).
PLAN: tuple[tuple[str, int, str, tuple[str, ...]], ...] = (
    ("sqlite", 1, "quiet", ()),
    ("sqlite", 1, "run", ("webhooks", "links")),
    ("postgres", 1, "quiet", ("webhooks", "links")),
    ("postgres", 2, "quiet", ("webhooks", "sockets")),
)


@dataclass
class Check:
    profile: str
    target: str
    figure: str
    met: bool


def results_path(db: str, workers: int, profile: str = "quiet") -> Path:
    suffix = "" if profile == "quiet" else f"-{profile}"
    return procs.RESULTS / f"latest-{db}-{workers}w{suffix}.json"


def load(db: str, workers: int, profile: str = "quiet") -> dict[str, Any] | None:
    try:
        return json.loads(results_path(db, workers, profile).read_text())
    except (OSError, ValueError):
        return None


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def checks(db: str, workers: int, r: dict[str, Any], profile: str = "quiet") -> list[Check]:
    profile = f"{db}, {workers} worker{'s' if workers > 1 else ''}, {profile}"
    out: list[Check] = []

    def add(target: str, figure: str, met: bool) -> None:
        out.append(Check(profile, target, figure, met))

    if "floor" in r:
        floor = r["floor"]
        stock = floor["bare JSON, Django's stock handler and middleware"]
        ours = floor["bare JSON, the store's handler and middleware"]
        emulator = floor["emulator GET /payments/{id}"]
        x = _ratio(ours["rate"], stock["rate"])
        add("project middleware >= 1.3x stock", f"{x:.2f}x", x >= 1.3)
        add("emulator >= 2,000 GET/s", f"{emulator['rate']:,.0f}/s", emulator["rate"] >= 2000)
    if "webhooks" in r:
        w = r["webhooks"]
        store, probe = w["store"], w["probe"]
        if workers == 1:
            x = _ratio(store["rate"], probe["rate"])
            add("webhook >= 0.9x probe", f"{x:.2f}x", x >= 0.9)
            x = _ratio(_total(store), _total(probe))
            add("webhook CPU, every process, <= 1.2x probe", f"{x:.2f}x", x <= 1.2)
            x = _ratio(store["p99_ms"], probe["p99_ms"])
            add("webhook p99 <= 1.5x probe", f"{x:.2f}x", x <= 1.5)
            add(
                "unloaded acknowledgement p50 <= 15 ms",
                f"{w['unloaded_p50_ms']:.1f} ms",
                w["unloaded_p50_ms"] <= 15,
            )
        else:
            one = w.get("one_worker")
            if one:
                x = _ratio(store["cpu_ms"], one["cpu_ms"])
                add("two workers' CPU per request <= 1.1x one's", f"{x:.2f}x", x <= 1.1)
        deliveries = w["deliveries"]
        failed = w["non_2xx"]
        if r.get("quick"):
            # A quick run sends fewer than 3,000: it shows non-2xx answers, not the target.
            add(
                "0 non-2xx (3,000+ deliveries: full run)", f"{failed} in {deliveries:,}", not failed
            )
        else:
            add(
                "0 non-2xx in >= 3,000 deliveries",
                f"{failed} in {deliveries:,}",
                failed == 0 and deliveries >= 3000,
            )
    if "links" in r:
        link = r["links"]
        x = _ratio(link["store"]["rate"], link["probe"]["rate"])
        add("payment link >= 0.9x probe", f"{x:.2f}x", x >= 0.9)
        x = _ratio(link["store"]["p99_ms"], link["probe"]["p99_ms"])
        add("payment link p99 <= 2x probe", f"{x:.2f}x", x <= 2)
        add(
            "link overhead p50 <= 6 ms unloaded",
            f"{link['overhead_ms']:.1f} ms",
            link["overhead_ms"] <= 6,
        )
        if "direct_p50_ms" in link:
            add(
                "emulator idle call < 2 ms",
                f"{link['direct_p50_ms']:.1f} ms",
                link["direct_p50_ms"] < 2,
            )
    if "tokens" in r and "links" in r:
        add("exactly one token request", str(r["tokens"]), r["tokens"] == 1)
    if "sockets" in r:
        s = r["sockets"]
        add("socket push p50 <= 15 ms", f"{s['p50_ms']:.1f} ms", s["p50_ms"] <= 15)
        across = " across workers (Redis)" if workers > 1 else ""
        add(f"socket push{across} p99 <= 25 ms", f"{s['p99_ms']:.1f} ms", s["p99_ms"] <= 25)
        add("no push lost", str(s["lost"]), s["lost"] == 0)
        add("connects >= 500/s", f"{s['connect_rate']:,.0f}/s", s["connect_rate"] >= 500)
        add(
            "idle sockets < 5% of a core",
            f"{s['idle_core_share'] * 100:.1f}%",
            s["idle_core_share"] < 0.05,
        )
    if "pages" in r:
        pages = r["pages"]
        stock = pages["bare JSON, Django's stock handler and middleware"]["rate"]
        for name in ("catalog /", "order status JSON"):
            x = _ratio(pages[name]["rate"], stock)
            add(f"{name} >= 0.7x stock bare view", f"{x:.2f}x", x >= 0.7)
    if "queries" in r:
        grows = [n for n, by in r["queries"].items() if by["10"] != by["1000"]]
        add("same queries at 10 and 1,000", ", ".join(grows) or "all the same", not grows)
        key_writes = {n: by["1000"] for n, by in r.get("query_writes", {}).items() if "?key=" in n}
        if key_writes:
            add(
                "a ?key= visit granting nothing writes nothing",
                f"{sum(key_writes.values())} writes",
                not any(key_writes.values()),
            )
    return out


def _total(figure: dict[str, Any]) -> float:
    """CPU per request in every process (``Figure.total_ms``, from its saved fields)."""
    worker = figure.get("worker_ms", 0.0) if figure.get("worker_counted") else 0.0
    return figure["cpu_ms"] + worker + figure.get("emulator_ms", 0.0) + figure["db_cpu_ms"]


def summary() -> str:
    rows: list[Check] = []
    for db, workers, profile, _ in PLAN:
        r = load(db, workers, profile)
        if r is not None:
            rows += checks(db, workers, r, profile)
    if not rows:
        return "No results yet: run python -m bench --all."
    width = max(len(c.target) for c in rows)
    fig_width = max(len(c.figure) for c in rows)
    lines = ["Targets (latest results of each profile)"]
    profile = None
    for c in rows:
        if c.profile != profile:
            profile = c.profile
            lines.append(f"  {profile}")
        mark = "met" if c.met else "MISSED"
        lines.append(f"    {c.target.ljust(width)}  {c.figure.ljust(fig_width)}  {mark}")
    met = sum(c.met for c in rows)
    lines.append(f"  {met} of {len(rows)} met")
    return "\n".join(lines)

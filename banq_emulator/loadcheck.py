"""How fast the emulator answers: `python -m banq_emulator.loadcheck [--url URL]`.

Without --url it starts its own emulator (`python -m banq_emulator --port 0`, access log off
nowhere but /dev/null) and stops it afterwards. Then it creates one payment and measures:

- idle latency: sequential `GET /api/v1/payments/{id}` on one keep-alive `requests.Session`
  (median and 99th percentile of the round trip, client time included);
- throughput: `--clients` keep-alive connections (asyncio, a minimal HTTP/1.1 client, so the
  client costs little next to the server) doing the same GET for `--seconds`;
- optionally (`--threads`) the same with one `requests.Session` per thread, the store's client.

The emulator must never be what a benchmark of the store measures: targets are < 2 ms idle and
>= 2,000 GETs per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from multiprocessing import Process, Queue
from pathlib import Path
from urllib.parse import urlsplit

import requests

from banq_emulator import defaults


def _start() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "banq_emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    prefix = "banq emulator listening on "
    if not line.startswith(prefix):
        process.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return process, line[len(prefix) :]


def _payment(url: str) -> tuple[str, str]:
    token = requests.post(
        f"{url}/oauth/token",
        json=defaults.OPEN_API_TOKEN_REQUEST,
        timeout=10,
    ).json()["access_token"]
    created = requests.post(
        f"{url}/api/v1/payments/get-paid-link",
        json={
            "destination": {"banqGuid": defaults.MERCHANT_BANQ_GUID},
            "funds": 19.9,
            "comment": "loadcheck",
            "externalOrderCode": "LOAD-1",
            "frequency": "once",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    created.raise_for_status()
    return token, created.json()["data"]["id"]


def idle_latency(url: str, token: str, payment_id: str, calls: int = 300) -> list[float]:
    """Round-trip times in ms of sequential calls on one keep-alive session."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    target = f"{url}/api/v1/payments/{payment_id}"
    for _ in range(20):  # connect and warm up
        session.get(target, timeout=10).raise_for_status()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        session.get(target, timeout=10).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _client(host: str, port: int, request: bytes, until: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    try:
        while time.monotonic() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done += 1
    finally:
        counts.append(done)
        writer.close()


async def _throughput(url: str, token: str, payment_id: str, clients: int, seconds: float) -> float:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET /api/v1/payments/{payment_id} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    counts: list[int] = []
    started = time.monotonic()
    await asyncio.gather(
        *(_client(host, port, request, started + seconds, counts) for _ in range(clients))
    )
    return sum(counts) / (time.monotonic() - started)


def throughput(url: str, token: str, payment_id: str, clients: int, seconds: float) -> float:
    """GETs per second with `clients` concurrent keep-alive connections (asyncio client)."""
    return asyncio.run(_throughput(url, token, payment_id, clients, seconds))


def _threaded_count(
    url: str, token: str, payment_id: str, clients: int, until: float, out: Queue[int] | None
) -> int:
    target = f"{url}/api/v1/payments/{payment_id}"
    counts: list[int] = []

    def work() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        done = 0
        while time.monotonic() < until:
            session.get(target, timeout=10).raise_for_status()
            done += 1
        counts.append(done)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if out is not None:
        out.put(sum(counts))
    return sum(counts)


def threaded_throughput(
    url: str, token: str, payment_id: str, clients: int, seconds: float, processes: int = 1
) -> float:
    """GETs per second with one keep-alive requests.Session per thread, the threads spread over
    `processes` client processes (one Python process cannot drive requests much faster than
    about 1,300 calls per second: the client, not the emulator, is then the limit)."""
    started = time.monotonic()
    until = started + seconds
    if processes <= 1:
        total = _threaded_count(url, token, payment_id, clients, until, None)
        return total / (time.monotonic() - started)
    results: Queue[int] = Queue()
    workers = [
        Process(
            target=_threaded_count,
            args=(url, token, payment_id, clients // processes, until, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=seconds + 30) for _ in workers)
    for worker in workers:
        worker.join()
    return total / (time.monotonic() - started)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m banq_emulator.loadcheck", description=__doc__)
    parser.add_argument("--url", help="a running emulator (default: start one)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--threads", action="store_true", help="also measure requests.Session threads"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="client processes for --threads (default 1)"
    )
    args = parser.parse_args(argv)
    process = None
    url = args.url
    if not url:
        process, url = _start()
    try:
        token, payment_id = _payment(url.rstrip("/"))
        times = sorted(idle_latency(url, token, payment_id))
        p99 = times[int(len(times) * 0.99) - 1]
        print(
            f"idle GET payment (one requests.Session, {len(times)} calls): "
            f"median {statistics.median(times):.2f} ms, p99 {p99:.2f} ms"
        )

        def busy(before: float | None) -> str:
            after = _cpu_seconds(process.pid) if process else None
            if before is None or after is None:
                return ""
            return f" (emulator busy {100 * (after - before) / args.seconds:.0f}% of one core)"

        cpu = _cpu_seconds(process.pid) if process else None
        rate = throughput(url, token, payment_id, args.clients, args.seconds)
        print(
            f"GET payment, {args.clients} keep-alive asyncio connections for {args.seconds:g} s: "
            f"{rate:,.0f} per second{busy(cpu)}"
        )
        if args.threads:
            cpu = _cpu_seconds(process.pid) if process else None
            rate = threaded_throughput(
                url, token, payment_id, args.clients, args.seconds, args.processes
            )
            print(
                f"GET payment, {args.clients} requests.Session threads in {args.processes} "
                f"process(es) for {args.seconds:g} s: {rate:,.0f} per second{busy(cpu)}"
            )
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A small asyncio HTTP/1.1 load generator: keep-alive connections, N in parallel.

It costs far less CPU per request than the servers it measures (a few tens of microseconds), so on
a 2-core machine the figures are the servers', not the client's. Each request is a
``(method, path, headers, body)`` tuple taken from a shared iterator, so every request can differ
(distinct webhook events, one order per payment link).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

Request = tuple[str, str, dict[str, str], bytes]


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    db_cpu: float = 0.0  # CPU seconds PostgreSQL's processes used meanwhile (0 with SQLite)
    machine_busy: float = 0.0  # share of all the machine's cores busy meanwhile (0 to 1)
    others_cpu: dict[str, float] = field(default_factory=dict)  # other processes, by name

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def add(self, other: LoadResult, *, seconds: float) -> None:
        """Count ``other``'s requests in this result, which then took ``seconds`` in all."""
        self.requests += other.requests
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.errors += other.errors
        self.seconds = seconds


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length = 0
        close = False
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and "close" in value.lower():
                close = True
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip() or b"0", 16)
                if size == 0:
                    await self.reader.readline()
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readline()
        else:
            data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, data


async def run_load(
    host: str,
    port: int,
    requests: Iterable[Request],
    *,
    concurrency: int = 32,
    duration: float | None = None,
) -> LoadResult:
    """Send the requests over ``concurrency`` keep-alive connections until they run out (or
    ``duration`` seconds pass, if given)."""
    source: Iterator[Request] = iter(requests)
    result = LoadResult()
    stop_at = None if duration is None else time.monotonic() + duration

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            while stop_at is None or time.monotonic() < stop_at:
                try:
                    method, path, headers, body = next(source)
                except StopIteration:
                    return
                started = time.perf_counter()
                try:
                    status, _ = await conn.request(method, path, headers, body)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    result.statuses[0] += 1
                    await conn.close()
                    continue
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1
                result.requests += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def load(host: str, port: int, requests: Iterable[Request], **kwargs) -> LoadResult:
    return asyncio.run(run_load(host, port, requests, **kwargs))

"""python -m banq_emulator [--host H] [--port P] [--seed N] [--webhook-url URL]
[--retry-backoff S] [--faults JSON] [--merchant-name NAME] [--public-url URL]
[--state-file PATH [--fresh]] [--installment-clock SECONDS]"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from banq_emulator import defaults
from banq_emulator.persist import StateFile, StateFileError
from banq_emulator.redact import mask_text
from banq_emulator.server import EmulatorApp, make_server
from banq_emulator.state import EmulatorState, FaultError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # the store's format
logger = logging.getLogger("banq_emulator")


class MaskingFormatter(logging.Formatter):
    """Every line, tracebacks and third-party lines included, with webhook tokens masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m banq_emulator", description="A local banq emulator (HTTP level)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=None, help="seed for ids and fault dice")
    parser.add_argument("--webhook-url", default=None, help="pre-register a webhook config")
    parser.add_argument(
        "--retry-backoff", type=float, default=2.0, help="first retry delay in seconds (doubles)"
    )
    parser.add_argument("--faults", default=None, help="JSON, e.g. '{\"latency_ms\": 200}'")
    parser.add_argument("--merchant-name", default=defaults.MERCHANT_NAME)
    parser.add_argument(
        "--public-url", default=None, help="base URL printed in links (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--state-file",
        default=None,
        metavar="PATH",
        help="keep payments, links, transactions, tokens, webhook config and deliveries in this "
        "JSON file across restarts (default: in memory only)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="with --state-file: ignore what the file holds and start empty (overwriting it)",
    )
    parser.add_argument(
        "--installment-clock",
        type=float,
        default=None,
        metavar="SECONDS",
        help="charge recurring payments' installments automatically, one period every SECONDS "
        "real seconds (default: only on request)",
    )
    return parser


def _load(state: EmulatorState, store: StateFile, *, fresh: bool) -> None:
    """Restore the state file into state, or say in one line why the emulator starts empty."""
    store.remove_stale_temporaries()
    if fresh:
        logger.info("State file %s: starting fresh (--fresh)", store.path)
        return
    try:
        loaded = store.load_into(state)
    except StateFileError as exc:
        aside = store.set_aside()
        kept = f"; the old file is kept as {aside}" if aside else ""
        logger.warning("State file unusable, starting fresh: %s%s", exc, kept)
        return
    if loaded:
        logger.info(
            "State file %s: %s payments, %s deliveries loaded",
            store.path,
            len(state.payments),
            len(state.deliveries),
        )
    else:
        logger.info("State file %s: not there yet, starting empty", store.path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    if args.retry_backoff < 0:
        print("banq emulator: --retry-backoff must be >= 0", file=sys.stderr)
        return 2
    if args.installment_clock is not None and not args.installment_clock > 0:
        print("banq emulator: --installment-clock must be > 0 seconds", file=sys.stderr)
        return 2
    if args.fresh and not args.state_file:
        print("banq emulator: --fresh needs --state-file", file=sys.stderr)
        return 2
    store = StateFile(args.state_file) if args.state_file else None
    try:
        faults = json.loads(args.faults) if args.faults else None
        state = EmulatorState(
            seed=args.seed,
            merchant_name=args.merchant_name,
            webhook_url=args.webhook_url,
            faults=faults,
            installment_clock_s=args.installment_clock,
        )
    except (ValueError, FaultError) as exc:
        print(f"banq emulator: bad --faults: {exc}", file=sys.stderr)
        return 2
    if store is not None:
        _load(state, store, fresh=args.fresh)
        state.store = store
        with state.lock:
            store.save(state)  # the file exists (and a fresh start replaced it) from now on
    app = EmulatorApp(state, retry_backoff=args.retry_backoff)
    try:
        server = make_server(app, args.host, args.port, args.public_url)
    except OSError as exc:
        print(f"banq emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    def stop(signum, frame):  # serve_forever runs in the main thread: shut down from another
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"banq emulator listening on {app.base_url}", flush=True)
    app.start()
    try:
        server.serve_forever(poll_interval=0.1)  # a quick stop on SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()
        server.server_close()
    logger.info("banq emulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

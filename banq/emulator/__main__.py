"""python -m banq.emulator [--host H] [--port P] [--seed N] [--webhook-url URL]
[--retry-backoff S] [--faults JSON] [--merchant-name NAME] [--public-url URL]"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from banq.emulator import defaults
from banq.emulator.server import EmulatorApp, make_server
from banq.emulator.state import EmulatorState, FaultError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m banq.emulator", description="A local banq emulator (HTTP level)."
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    try:
        faults = json.loads(args.faults) if args.faults else None
        state = EmulatorState(
            seed=args.seed,
            merchant_name=args.merchant_name,
            webhook_url=args.webhook_url,
            faults=faults,
        )
    except (ValueError, FaultError) as exc:
        print(f"banq emulator: bad --faults: {exc}", file=sys.stderr)
        return 2
    if args.retry_backoff < 0:
        print("banq emulator: --retry-backoff must be >= 0", file=sys.stderr)
        return 2
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
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.deliverer.stopping.set()
        server.server_close()
    print("banq emulator stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

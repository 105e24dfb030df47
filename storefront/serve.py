"""Run daphne with an access log that never prints secrets, in the store's log format.

    python -m storefront.serve -b 127.0.0.1 -p 8000 storefront.asgi:application

Takes daphne's own command-line options. The differences from ``daphne``: the access log hides
the webhook token in ``/webhooks/banq/<token>/...`` and the value of signed order-link keys
(``?key=...``), which daphne would otherwise write out verbatim with every request, and daphne's
own lines and the access log use the store's one log format (``LOG_FORMAT``).
"""

from __future__ import annotations

import sys

from daphne import cli
from daphne.access import AccessLogGenerator

from storefront.redaction import redact as redact_path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        when = date.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        self.stream.write(
            f'{when} INFO storefront.access: {host} "{redact_path(request)}" '
            f"{status or '-'} {length or '-'}\n"
        )


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--log-fmt" not in args:
        args = ["--log-fmt", LOG_FORMAT, *args]
    cli.AccessLogGenerator = RedactingAccessLog  # daphne builds its logger from this name
    sys.argv = [sys.argv[0], *args]
    sys.exit(cli.CommandLineInterface.entrypoint())


if __name__ == "__main__":
    main()

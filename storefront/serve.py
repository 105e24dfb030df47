"""Run daphne with an access log that never prints secrets.

    python -m storefront.serve -b 127.0.0.1 -p 8000 storefront.asgi:application

Takes daphne's own command-line options. The only difference from ``daphne``: the access log hides
the webhook token in ``/webhooks/banq/<token>/...`` and the value of signed order-link keys
(``?key=...``), which daphne would otherwise write out verbatim with every request.
"""

from __future__ import annotations

import sys

from daphne import cli
from daphne.access import AccessLogGenerator

from storefront.redaction import redact as redact_path


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        super().write_entry(host, date, redact_path(request), status, length, ident, user)


def main() -> None:
    cli.AccessLogGenerator = RedactingAccessLog  # daphne builds its logger from this name
    sys.exit(cli.CommandLineInterface.entrypoint())


if __name__ == "__main__":
    main()

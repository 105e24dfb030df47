"""The access log of `python -m storefront.serve` hides secrets that sit in URLs."""

import datetime
import io

from storefront.serve import RedactingAccessLog, redact_path


def test_webhook_token_and_order_key_are_redacted():
    line = "POST /webhooks/banq/s3cr3t-token-value/payment-status/"
    assert "s3cr3t" not in redact_path(line)
    assert redact_path(line) == "POST /webhooks/banq/<redacted>/payment-status/"
    page = "GET /orders/8d1e/?key=1abc:SIGNATURE&x=1"
    assert redact_path(page) == "GET /orders/8d1e/?key=<redacted>&x=1"


def test_access_log_entries_are_written_redacted():
    stream = io.StringIO()
    log = RedactingAccessLog(stream)
    log(
        "http",
        "complete",
        {
            "client": "127.0.0.1:5000",
            "method": "POST",
            "path": "/webhooks/banq/another-secret/payment-status/",
            "status": 200,
            "size": 10,
        },
    )
    log.write_entry(
        "h",
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        "WSCONNECT /ws/orders/1/?key=abc:def",
    )
    text = stream.getvalue()
    assert "another-secret" not in text
    assert "abc:def" not in text
    assert text.count("<redacted>") == 2

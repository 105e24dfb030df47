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


def test_log_filter_hides_secrets_that_other_code_logs(settings, caplog):
    import logging

    from storefront.logfilters import RedactSecretsFilter

    settings.BANQ_WEBHOOK_TOKEN = "whk-token-abcdefghijklmnopqrstuvwx"
    settings.BANQ_PASSWORD = "p4ssw0rd-never-shown"
    record = logging.LogRecord(
        "django.request",
        logging.ERROR,
        __file__,
        1,
        "Internal Server Error: %s (%s)",
        (
            "/webhooks/banq/whk-token-abcdefghijklmnopqrstuvwx/payment-status/",
            "p4ssw0rd-never-shown",
        ),
        None,
    )
    assert RedactSecretsFilter().filter(record) is True
    message = record.getMessage()
    assert "whk-token" not in message
    assert "p4ssw0rd" not in message
    assert (
        message == "Internal Server Error: /webhooks/banq/<redacted>/payment-status/ (<redacted>)"
    )


def test_websocket_debug_text_is_only_built_when_written(monkeypatch):
    import pprint

    from autobahn.websocket import protocol

    from storefront.serve import defer_websocket_debug_text

    real = pprint.pformat
    calls = []
    monkeypatch.setattr(pprint, "pformat", lambda value: calls.append(value) or real(value))
    monkeypatch.setattr(protocol, "pformat", protocol.pformat)  # restored after the test
    defer_websocket_debug_text()
    config = [("openHandshakeTimeout", 5, "WebSocketServerFactory")]

    text = protocol.pformat(config)  # what autobahn does on every new connection

    assert calls == []
    assert "\n{attrs}".format(attrs=text) == "\n" + real(config)  # noqa: UP032 - as txaio formats
    assert len(calls) == 1

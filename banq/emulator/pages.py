"""HTML for the hosted payment page, the "banq app" approval page and the dashboard.

Plain strings with html.escape; values embedded in scripts go through _js().
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

import segno

from banq.emulator import defaults
from banq.emulator.state import Payment

CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#17212b;
background:#f4f6fb}
main{max-width:880px;margin:0 auto;padding:24px}
h1{font-size:1.35rem;margin:0 0 4px}h2{font-size:1.05rem;margin:18px 0 8px}
.muted{color:#5b6675}.amount{font-size:2rem;font-weight:700;margin:8px 0}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08);padding:20px;
margin:0 0 16px}
.cols{display:flex;gap:16px;flex-wrap:wrap}.cols>.card{flex:1 1 300px}
label{display:block;margin:8px 0 2px;font-weight:600}
input,select{width:100%;padding:8px;border:1px solid #c9d1dc;border-radius:8px;font:inherit}
button{font:inherit;padding:9px 16px;border-radius:8px;border:0;background:#1f5eff;color:#fff;
cursor:pointer}
button.secondary{background:#e6eaf2;color:#17212b}button.danger{background:#c62828}
button:disabled{opacity:.6;cursor:default}
.state{font-size:1.2rem;font-weight:700}.ok{color:#1b7f3b}.bad{color:#c62828}
.error{color:#c62828;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e7ee;padding:6px;text-align:left;vertical-align:top}
code{font-size:12px;word-break:break-all}.inline{display:inline}
.qr svg{max-width:100%;height:auto}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _js(value: Any) -> str:
    """A JSON literal safe inside a <script> element."""
    return (
        json.dumps(value)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _page(title: str, body: str, *, script: str = "") -> str:
    script_tag = f"<script>{script}</script>" if script else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main>{script_tag}</body></html>"
    )


def money(payment: Payment) -> str:
    return f"${payment.funds:,.2f}"


def _summary(payment: Payment, merchant: str) -> str:
    recurrence = _e(payment.frequency)
    if payment.start_date or payment.end_date:
        recurrence += (
            f" (from {_e(payment.start_date or 'now')} to {_e(payment.end_date or 'indefinite')})"
        )
    return (
        f"<p class='muted'>Pay to</p><h1 class='merchant'>{_e(merchant)}</h1>"
        f"<p class='amount'>{_e(money(payment))}</p>"
        f"<p class='comment'>{_e(payment.comment)}</p>"
        f"<p class='muted'>Frequency: <span class='frequency'>{recurrence}</span></p>"
    )


def _state_line(payment: Payment) -> str:
    if payment.status == "completed":
        return "<p class='state ok' id='payment-state'>Payment complete</p>"
    if payment.status == "failed":
        return (
            "<p class='state bad' id='payment-state'>Payment failed: "
            f"<span class='fail-reason'>{_e(payment.fail_reason)}</span></p>"
        )
    return "<p class='state' id='payment-state'>Waiting for payment</p>"


def _close_script(origin: str | None) -> str:
    return (
        f"var ORIGIN={_js(origin)};"
        "function banqPost(msg){if(ORIGIN&&window.parent!==window){"
        "window.parent.postMessage(msg,ORIGIN);}}"
        "document.querySelectorAll('[data-banq-close]').forEach(function(b){"
        "b.addEventListener('click',function(){banqPost({type:'close',payload:null});});});"
    )


def qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=4, title="Scan to pay with banq")


def link_page(
    payment: Payment, *, merchant: str, origin: str | None, approve_url: str, error: str = ""
) -> str:
    """The hosted payment page: summary, simulated login + Pay, Decline, Close and the QR code."""
    parts = [f"<div class='card'>{_summary(payment, merchant)}{_state_line(payment)}</div>"]
    origin_field = f"<input type='hidden' name='origin' value='{_e(origin or '')}'>"
    if payment.status == "created":
        reasons = "".join(
            f"<option value='{_e(r)}'{' selected' if r == 'InsufficientBalance' else ''}>"
            f"{_e(r)}</option>"
            for r in defaults.FAIL_REASONS
        )
        error_html = f"<p class='error' role='alert'>{_e(error)}</p>" if error else ""
        parts.append(
            "<div class='cols'>"
            "<div class='card'><h2>Log in to banq</h2>"
            "<p class='muted'>Emulator: any e-mail and any non-empty password.</p>"
            f"{error_html}"
            f"<form method='post' action='/link/{_e(payment.code)}/pay' id='pay-form'>"
            f"{origin_field}"
            "<label for='email'>E-mail</label>"
            "<input id='email' name='email' type='email' value='shopper@example.test' required>"
            "<label for='password'>Password</label>"
            "<input id='password' name='password' type='password' value='demo' required>"
            f"<p><button type='submit' id='pay-button'>Pay {_e(money(payment))}</button></p>"
            "</form>"
            f"<form method='post' action='/link/{_e(payment.code)}/decline' id='decline-form'>"
            f"{origin_field}"
            "<label for='reason'>Or decline with a banq fail reason</label>"
            f"<select id='reason' name='reason'>{reasons}</select>"
            "<p><button type='submit' class='danger' id='decline-button'>Decline</button></p>"
            "</form></div>"
            "<div class='card qr'><h2>Scan to Pay with banq</h2>"
            f"{qr_svg(approve_url)}"
            f"<p class='muted'>Or open <a href='{_e(approve_url)}' target='_blank' "
            "rel='noopener'>the banq app approval page</a>.</p></div>"
            "</div>"
        )
    parts.append(
        "<p><button type='button' class='secondary' data-banq-close id='close-button'>"
        "Close</button></p>"
    )
    poll = ""
    if payment.status == "created":
        # A payment approved in the app (QR path) shows up here without telling the widget.
        poll = (
            f"var STATUS_URL={_js(f'/link/{payment.code}/status')};"
            "setInterval(function(){fetch(STATUS_URL,{cache:'no-store'}).then(function(r){"
            "return r.json();}).then(function(b){if(b.data&&b.data.status!=='created'){"
            "location.reload();}}).catch(function(){});},2000);"
        )
    return _page(f"Pay {merchant}", "".join(parts), script=_close_script(origin) + poll)


def link_result(payment: Payment, *, merchant: str, origin: str | None) -> str:
    """After Pay/Decline. A completed payment posts successPayment to the opener's origin only."""
    body = (
        f"<div class='card'>{_summary(payment, merchant)}{_state_line(payment)}</div>"
        "<p><button type='button' class='secondary' data-banq-close id='close-button'>"
        "Close</button></p>"
    )
    script = _close_script(origin)
    if payment.status == "completed":
        message = {"type": "successPayment", "payload": {"paymentId": payment.id}}
        script += f"banqPost({_js(message)});"
    return _page(f"Pay {merchant}", body, script=script)


def approve_page(payment: Payment, *, merchant: str) -> str:
    """The "banq app" screen a QR scan opens."""
    body = (
        "<div class='card'><p class='muted'>banq app (emulated)</p>"
        f"{_summary(payment, merchant)}{_state_line(payment)}"
    )
    if payment.status == "created":
        body += (
            f"<form method='post' action='/app/approve/{_e(payment.code)}'>"
            "<button type='submit' id='approve-button'>Approve payment</button></form>"
        )
    body += "</div>"
    return _page("banq app: approve payment", body)


def not_found() -> str:
    return message_page("Unknown link", "This payment link does not exist.")


def message_page(title: str, text: str) -> str:
    return _page(title, f"<div class='card'><h1>{_e(title)}</h1><p>{_e(text)}</p></div>")


def _button(action: str, label: str, extra: str = "", cls: str = "secondary") -> str:
    return (
        f"<form class='inline' method='post' action='{_e(action)}'>{extra}"
        f"<button type='submit' class='{cls}'>{_e(label)}</button></form>"
    )


def dashboard(
    *,
    state: dict[str, Any],
    payments: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    fail_reasons: Iterable[str],
    routes: Iterable[str],
) -> str:
    api = "/_emulator/api"
    reasons = "".join(f"<option>{_e(r)}</option>" for r in fail_reasons)
    rows = []
    for p in reversed(payments):
        actions = ""
        if p["status"] == "created":
            actions = _button(f"{api}/payments/{p['id']}/complete", "Complete", cls="") + (
                f"<form class='inline' method='post' action='{api}/payments/{_e(p['id'])}/fail'>"
                f"<select name='reason'>{reasons}</select>"
                "<button type='submit' class='danger'>Fail</button></form>"
            )
        rows.append(
            f"<tr><td><code>{_e(p['id'])}</code><br><a href='{_e(p['url'])}'>{_e(p['code'])}</a>"
            f"</td><td>{_e(p['externalOrderCode'])}</td><td>${_e(p['funds'])}</td>"
            f"<td>{_e(p['comment'])}</td><td>{_e(p['merchantName'])}</td>"
            f"<td>{_e(p['status'])} {_e(p['failReason'] or '')}"
            f"<br><span class='muted'>{_e(p['completedVia'] or '')}</span></td>"
            f"<td>{actions}</td></tr>"
        )
    payments_html = (
        "<table><tr><th>Payment / link</th><th>Order code</th><th>Funds</th><th>Comment</th>"
        "<th>Merchant</th><th>Status</th><th></th></tr>"
        + ("".join(rows) or "<tr><td colspan='7' class='muted'>No payments yet.</td></tr>")
        + "</table>"
    )
    drows = []
    for d in reversed(deliveries):
        attempts = "".join(
            "<li>"
            + (
                "dropped (fault)"
                if a.get("dropped")
                else f"#{_e(a['number'])} {_e(a['at'])}: {_e(a['statusCode'] or '')} "
                f"{_e(a['error'] or '')} <code>{_e(a['responseBody'])}</code>"
            )
            + "</li>"
            for a in d["attempts"]
        )
        resend = _button(f"{api}/deliveries/{d['id']}/resend", "Resend")
        drows.append(
            f"<tr><td>{_e(d['createdAt'])}</td><td>{_e(d['resourceType'])} {_e(d['action'])}"
            f"<br><code>{_e(d['resourceId'])}</code>"
            f"{' (duplicate)' if d['duplicate'] else ''}</td><td><code>{_e(d['url'])}</code></td>"
            f"<td>{_e(d['status'])}</td><td><ul>{attempts}</ul></td>"
            f"<td>{resend}</td></tr>"
        )
    deliveries_html = (
        "<table><tr><th>Created</th><th>Event</th><th>URL</th><th>Status</th><th>Attempts</th>"
        "<th></th></tr>"
        + ("".join(drows) or "<tr><td colspan='6' class='muted'>No deliveries yet.</td></tr>")
        + "</table>"
    )
    config = state["webhookConfigs"].get(state["merchant"]["accountSpaceId"])
    config = config or {"url": "", "enabled": True, "retryCount": 5, "webHookTypes": []}
    config_html = (
        f"<form method='post' action='{api}/webhook-config'>"
        f"<label>URL (empty removes the config)</label>"
        f"<input name='url' value='{_e(config['url'])}'>"
        f"<label><input type='checkbox' name='enabled' style='width:auto'"
        f"{' checked' if config['enabled'] else ''}> enabled</label>"
        f"<label>retryCount</label><input name='retryCount' value='{_e(config['retryCount'])}'>"
        f"<label>webHookTypes</label>"
        f"<input name='webHookTypes' value='{_e(','.join(config['webHookTypes']))}'>"
        "<p><button type='submit'>Save webhook config</button></p></form>"
    )
    f = state["faults"]
    fields = "".join(
        f"<label>{_e(name)}</label><input name='{_e(name)}' value='{_e(value)}'>"
        for name, value in (
            ("latency_ms", f["latency_ms"]),
            ("error_rate", f["error_rate"]),
            ("error_routes", ",".join(f["error_routes"])),
            ("duplicate_deliveries", f["duplicate_deliveries"]),
            ("delivery_delay_s", f["delivery_delay_s"]),
            ("drop_deliveries", f["drop_deliveries"]),
            ("token_ttl_s", "" if f["token_ttl_s"] is None else f["token_ttl_s"]),
        )
    )
    faults_html = (
        f"<form method='post' action='{api}/faults'>{fields}"
        "<label><input type='checkbox' name='out_of_order' value='true' style='width:auto'"
        f"{' checked' if f['out_of_order'] else ''}> out_of_order (Transaction before Payment)"
        f"</label><p class='muted'>error_routes: {_e(', '.join(routes))} (empty = all)</p>"
        "<p><button type='submit'>Save faults</button></p></form>"
    )
    merchant = state["merchant"]
    body = (
        "<h1>banq emulator</h1>"
        f"<p class='muted'>Not banq: a local stand-in with the shapes of banq-api.md. "
        f"API <code>{_e(state['apiUrl'])}</code>, token <code>{_e(state['tokenUrl'])}</code>, "
        f"widget <code>{_e(state['widgetUrl'])}</code>. Merchant {_e(merchant['name'])}, "
        f"space <code>{_e(merchant['accountSpaceId'])}</code>, banq "
        f"<code>{_e(merchant['banqGuid'])}</code>. <a href='/_emulator/'>Refresh</a></p>"
        f"<div class='card'><h2>Payments</h2>{payments_html}</div>"
        f"<div class='card'><h2>Webhook deliveries</h2>{deliveries_html}</div>"
        f"<div class='cols'><div class='card'><h2>Webhook config</h2>{config_html}</div>"
        f"<div class='card'><h2>Faults</h2>{faults_html}</div></div>"
        f"<div class='card'>{_button(f'{api}/reset', 'Reset everything', cls='danger')}</div>"
    )
    return _page("banq emulator", body)

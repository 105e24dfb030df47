"""HTML for the hosted payment page, banq's widget page, the "banq app" approval page and the
dashboard; the favicon.

Plain strings with html.escape; values embedded in scripts go through _js(). The pages pass
axe-core with no violations: one <main>, headings in order, labelled controls, contrast >= 4.5:1.
A payment page fits its Pay button above the fold of the widget modal, on a phone too.
"""

from __future__ import annotations

import html
import json
import math
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import segno

from banq_emulator import defaults
from banq_emulator.redact import mask_text
from banq_emulator.state import Payment

CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#17212b;
background:#f4f6fb}
main{max-width:920px;margin:0 auto;padding:16px}
h1{font-size:1.3rem;margin:0 0 2px}h2{font-size:1.05rem;margin:0 0 8px}
p{margin:0 0 6px}
.muted{color:#4f5a68}.amount{font-size:1.75rem;font-weight:700;margin:0;white-space:nowrap}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08);padding:16px;
margin:0 0 12px}
.summary{display:flex;flex-wrap:wrap;gap:4px 16px;justify-content:space-between}
.summary .side{display:flex;gap:12px;align-items:flex-start;margin-left:auto}
.cols{display:grid;grid-template-columns:minmax(0,1fr);gap:0 12px}
@media (min-width:620px){.cols{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}}
.wide{display:flex;gap:12px;flex-wrap:wrap}.wide>.card{flex:1 1 300px}
label{display:block;margin:6px 0 2px;font-weight:600}
label.check{font-weight:400}label.check input{width:auto}
input,select{width:100%;padding:7px 8px;border:1px solid #6b7785;border-radius:8px;font:inherit;
color:#17212b;background:#fff}
button{font:inherit;padding:8px 16px;border-radius:8px;border:0;background:#1f5eff;color:#fff;
cursor:pointer}
button.secondary{background:#e6eaf2;color:#17212b}button.danger{background:#c62828}
button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:3px solid #1f5eff;outline-offset:2px}
.actions{margin:10px 0 0}
.state{font-size:1.05rem;font-weight:700;margin:6px 0 0;flex-basis:100%}
.ok{color:#1b7f3b}.bad{color:#b3261e}
.fail-code{display:block;font-size:.8rem;font-weight:400;color:#4f5a68}
.error{color:#b3261e;font-weight:600}
details{margin:10px 0 0}summary{cursor:pointer;color:#4f5a68;padding:4px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e7ee;padding:6px;text-align:left;vertical-align:top}
code{font-size:12px;word-break:break-all}.inline{display:inline}
.qr svg{display:block;max-width:100%;height:auto;margin:0 auto 6px}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;
clip:rect(0,0,0,0);white-space:nowrap;border:0}
"""

FAVICON_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>"
    "<rect width='32' height='32' rx='7' fill='#1f5eff'/>"
    "<rect x='8' y='5' width='4' height='21' fill='#fff'/>"
    "<circle cx='17' cy='19' r='6' fill='none' stroke='#fff' stroke-width='4'/></svg>"
)


def _favicon_ico() -> bytes:
    """The same picture as FAVICON_SVG as a 32x32 PNG inside an .ico (standard library only)."""
    size = 32

    def pixel(x: int, y: int) -> bytes:
        cx, cy = x + 0.5, y + 0.5
        dx = max(7 - cx, 0, cx - (size - 7))
        dy = max(7 - cy, 0, cy - (size - 7))
        if dx * dx + dy * dy > 49:  # outside the rounded corners
            return b"\x00\x00\x00\x00"
        ring = math.hypot(cx - 17, cy - 19)
        if (8 <= cx <= 12 and 5 <= cy <= 26) or 4 <= ring <= 8:
            return b"\xff\xff\xff\xff"
        return b"\x1f\x5e\xff\xff"

    raw = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(size)) for y in range(size))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


FAVICON_ICO = _favicon_ico()


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
        f"<title>{_e(title)}</title>"
        "<link rel='icon' href='/favicon.svg' type='image/svg+xml'>"
        "<link rel='alternate icon' href='/favicon.ico'>"
        f"<style>{CSS}</style></head>"
        f"<body><main>{body}</main>{script_tag}</body></html>"
    )


@dataclass(frozen=True)
class Frame:
    """The page is banq's widget app inside the <checkout-widget> iframe (`/widget/`): it sizes
    that iframe with `styles` messages, and its forms carry the mode on to the result page."""

    window_width: int | None = None
    window_height: int | None = None

    def fields(self) -> str:
        out = "<input type='hidden' name='widget' value='1'>"
        for name, value in (
            ("windowWidth", self.window_width),
            ("windowHeight", self.window_height),
        ):
            if value:
                out += f"<input type='hidden' name='{name}' value='{_e(value)}'>"
        return out

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Frame | None:
        if form.get("widget") != "1":
            return None

        def number(name: str) -> int | None:
            value = form.get(name, "").strip()
            return int(value) if value.isdigit() and 0 < int(value) < 100_000 else None

        return cls(number("windowWidth"), number("windowHeight"))


def money(payment: Payment) -> str:
    return f"${payment.funds:,.2f}"


def reason_html(code: str | None) -> str:
    """banq's fail reason in plain words; the code stays in smaller text and a data attribute."""
    return (
        f"<span class='fail-reason' data-reason='{_e(code)}'>"
        f"{_e(defaults.fail_reason_text(code))}</span>"
        f"<span class='fail-code'>banq reason code: <code>{_e(code)}</code></span>"
    )


def _close_button() -> str:
    return (
        "<button type='button' class='secondary' data-banq-close id='close-button'>Close</button>"
    )


def _summary(payment: Payment, merchant: str, *, close: bool = True) -> str:
    recurrence = _e(payment.frequency)
    if payment.start_date or payment.end_date:
        recurrence += (
            f" (from {_e(payment.start_date or 'now')} to {_e(payment.end_date or 'indefinite')})"
        )
    return (
        "<div class='card summary'><div>"
        f"<p class='muted'>Pay to</p><h1 class='merchant'>{_e(merchant)}</h1>"
        f"<p class='comment'>{_e(payment.comment)}</p>"
        f"<p class='muted'>Frequency: <span class='frequency'>{recurrence}</span></p></div>"
        f"<div class='side'><p class='amount'>{_e(money(payment))}</p>"
        f"{_close_button() if close else ''}</div>"
        f"{_state_line(payment)}</div>"
    )


def _state_line(payment: Payment) -> str:
    if payment.status == "completed":
        return "<p class='state ok' id='payment-state' role='status'>Payment complete</p>"
    if payment.status == "failed":
        return (
            "<p class='state bad' id='payment-state' role='status'>Payment failed: "
            f"{reason_html(payment.fail_reason)}</p>"
        )
    return "<p class='state muted' id='payment-state' role='status'>Waiting for payment</p>"


# In banq's modal, Tab and Shift-Tab go round the page's own controls: the dialog around it has
# no control of its own, and focus must not leave the modal.
FOCUS_ROUND = (
    "document.addEventListener('keydown',function(e){if(e.key!=='Tab'){return;}"
    "var all=Array.prototype.filter.call(document.querySelectorAll("
    "'a[href],button:not([disabled]),input:not([type=hidden]),select,textarea,summary'),"
    "function(el){return el.getClientRects().length>0;});if(!all.length){return;}"
    "var first=all[0],last=all[all.length-1],at=document.activeElement;"
    "var outside=!at||at===document.body;"
    "if(e.shiftKey&&(at===first||outside)){e.preventDefault();last.focus();}"
    "else if(!e.shiftKey&&(at===last||outside)){e.preventDefault();first.focus();}});"
)


def _frame_script(origin: str | None, frame: Frame | None) -> str:
    """Messages to the page that frames this one, to its origin only (never "*"): `close` from
    the Close button and from Escape; in widget mode `styles` first, sizing the iframe."""
    script = (
        f"var ORIGIN={_js(origin)};"
        "function banqPost(msg){if(ORIGIN&&window.parent!==window){"
        "window.parent.postMessage(msg,ORIGIN);}}"
        "function banqClose(){banqPost({type:'close',payload:null});}"
        "document.querySelectorAll('[data-banq-close]').forEach(function(b){"
        "b.addEventListener('click',banqClose);});"
        "document.addEventListener('keydown',function(e){"
        "if(e.key==='Escape'||e.key==='Esc'){e.preventDefault();banqClose();}});"
    )
    if frame is not None:
        window = {"width": frame.window_width, "height": frame.window_height}
        script += FOCUS_ROUND + (
            f"var WINDOW={_js(window)};var banqSized='';"
            "function banqSize(){"
            "var w=Math.max(280,Math.min(920,(WINDOW.width||960)-16));"
            "var h=Math.ceil(document.body.getBoundingClientRect().height);"
            "if(WINDOW.height){h=Math.min(h,WINDOW.height-16);}"
            "var size={width:w+'px',height:h+'px',maxWidth:'100%',maxHeight:'100vh'};"
            "var key=size.width+size.height;if(key===banqSized){return;}banqSized=key;"
            'banqPost({"type": "styles", "payload": size});}'
            "banqSize();"
            "if(window.ResizeObserver){new ResizeObserver(banqSize).observe(document.body);}"
            "window.addEventListener('resize',banqSize);"
        )
    return script


def qr_svg(url: str) -> str:
    svg = segno.make(url, error="m").svg_inline(
        scale=4, title="Scan to pay with banq", light="#fff"
    )
    return svg.replace(
        "<svg ", "<svg role='img' aria-label='QR code: scan it with the banq app to pay' ", 1
    )


def link_page(
    payment: Payment,
    *,
    merchant: str,
    origin: str | None,
    approve_url: str,
    error: str = "",
    frame: Frame | None = None,
) -> str:
    """The hosted payment page: summary, simulated login + Pay, Decline, Close and the QR code.
    With `frame`, it is banq's widget page (`/widget/`)."""
    parts = [_summary(payment, merchant)]
    hidden = f"<input type='hidden' name='origin' value='{_e(origin or '')}'>"
    if frame is not None:
        hidden += frame.fields()
    if payment.status == "created":
        reasons = "".join(
            f"<option value='{_e(r)}'{' selected' if r == 'InsufficientBalance' else ''}>"
            f"{_e(defaults.fail_reason_text(r))} ({_e(r)})</option>"
            for r in defaults.FAIL_REASONS
        )
        error_html = f"<p class='error' role='alert'>{_e(error)}</p>" if error else ""
        parts.append(
            "<div class='cols'>"
            "<section class='card' aria-labelledby='login-title'>"
            "<h2 id='login-title'>Log in to banq</h2>"
            "<p class='muted'>Emulator: any e-mail and any non-empty password.</p>"
            f"{error_html}"
            f"<form method='post' action='/link/{_e(payment.code)}/pay' id='pay-form'>"
            f"{hidden}"
            "<label for='email'>E-mail</label>"
            "<input id='email' name='email' type='email' autocomplete='email' "
            "value='shopper@example.test' required>"
            "<label for='password'>Password</label>"
            "<input id='password' name='password' type='password' "
            "autocomplete='current-password' value='demo' required>"
            "<p class='actions'><button type='submit' id='pay-button'>"
            f"Pay {_e(money(payment))}</button></p>"
            "</form>"
            "<details><summary>Decline instead (emulator)</summary>"
            f"<form method='post' action='/link/{_e(payment.code)}/decline' id='decline-form'>"
            f"{hidden}"
            "<label for='reason'>banq fail reason</label>"
            f"<select id='reason' name='reason'>{reasons}</select>"
            "<p class='actions'><button type='submit' class='danger' id='decline-button'>"
            "Decline</button></p></form></details></section>"
            "<section class='card qr' aria-labelledby='qr-title'>"
            "<h2 id='qr-title'>Scan to Pay with banq</h2>"
            f"{qr_svg(approve_url)}"
            f"<p class='muted'>Or open <a href='{_e(approve_url)}' target='_blank' "
            "rel='noopener'>the banq app approval page</a>.</p></section>"
            "</div>"
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
    return _page(
        f"Pay {merchant} with banq", "".join(parts), script=_frame_script(origin, frame) + poll
    )


def link_result(
    payment: Payment, *, merchant: str, origin: str | None, frame: Frame | None = None
) -> str:
    """After Pay/Decline. A completed payment posts successPayment to the opener's origin only
    (in widget mode after `styles`)."""
    script = _frame_script(origin, frame)
    if payment.status == "completed":
        message = {"type": "successPayment", "payload": {"paymentId": payment.id}}
        script += f"banqPost({_js(message)});"
    return _page(f"Pay {merchant} with banq", _summary(payment, merchant), script=script)


def approve_page(payment: Payment, *, merchant: str) -> str:
    """The "banq app" screen a QR scan opens."""
    body = "<p class='muted'>banq app (emulated)</p>" + _summary(payment, merchant, close=False)
    if payment.status == "created":
        body += (
            f"<form method='post' action='/app/approve/{_e(payment.code)}'>"
            "<button type='submit' id='approve-button'>Approve payment</button></form>"
        )
    return _page("banq app: approve payment", body)


def not_found() -> str:
    return message_page("Unknown link", "This payment link does not exist.")


def message_page(title: str, text: str) -> str:
    return _page(title, f"<div class='card'><h1>{_e(title)}</h1><p>{_e(text)}</p></div>")


def widget_problem(title: str, text: str, *, origin: str | None, frame: Frame) -> str:
    """The widget page without a usable link: says so, and can still be sized and closed."""
    body = (
        f"<div class='card'><h1>{_e(title)}</h1><p>{_e(text)}</p>"
        f"<p class='actions'>{_close_button()}</p></div>"
    )
    return _page(title, body, script=_frame_script(origin, frame))


def _button(action: str, label: str, extra: str = "", cls: str = "secondary") -> str:
    return (
        f"<form class='inline' method='post' action='{_e(action)}'>{extra}"
        f"<button type='submit' class='{cls}'>{_e(label)}</button></form>"
    )


def _reason_select(reasons: str, label: str) -> str:
    return f"<select name='reason' aria-label='{_e(label)}'>{reasons}</select>"


API = "/_emulator/api"


def _payment_actions(p: dict[str, Any], reasons: str) -> str:
    """Complete or fail a created payment; charge or fail the next installment of a paid plan."""
    if p["status"] == "created":
        return _button(f"{API}/payments/{p['id']}/complete", "Complete", cls="") + (
            f"<form class='inline' method='post' action='{API}/payments/{_e(p['id'])}/fail'>"
            f"{_reason_select(reasons, 'Fail reason for ' + p['code'])}"
            "<button type='submit' class='danger'>Fail</button></form>"
        )
    if p.get("nextInstallmentDate") and p["status"] == "completed":
        return _button(
            f"{API}/payments/{p['id']}/next-installment",
            f"Next installment ({p['nextInstallmentDate']})",
            "<input type='hidden' name='fail' value='false'>",
            cls="",
        ) + (
            f"<form class='inline' method='post' "
            f"action='{API}/payments/{_e(p['id'])}/next-installment'>"
            "<input type='hidden' name='fail' value='true'>"
            f"{_reason_select(reasons, 'Fail reason for the next installment of ' + p['code'])}"
            "<button type='submit' class='danger'>Fail next</button></form>"
        )
    return ""


def _payment_row(p: dict[str, Any], reasons: str) -> str:
    status = _e(p["status"])
    if p["failReason"]:
        status += f" <span title='{_e(defaults.fail_reason_text(p['failReason']))}'>"
        status += f"({_e(p['failReason'])})</span>"
    if p.get("transactions"):
        done = sum(1 for t in p["transactions"] if t["status"] == "completed")
        status += (
            f"<br><span class='muted'>installments: {len(p['transactions'])}, {done} paid</span>"
        )
    return (
        f"<tr><td><code>{_e(p['id'])}</code><br><a href='{_e(p['url'])}'>{_e(p['code'])}</a>"
        f"</td><td>{_e(p['externalOrderCode'])}</td><td>${_e(p['funds'])}</td>"
        f"<td>{_e(p['comment'])}</td><td>{_e(p['merchantName'])}</td>"
        f"<td>{status}<br><span class='muted'>{_e(p['completedVia'] or '')}</span></td>"
        f"<td>{_payment_actions(p, reasons)}</td></tr>"
    )


def _payments_table(payments: list[dict[str, Any]], fail_reasons: Iterable[str]) -> str:
    reasons = "".join(f"<option>{_e(r)}</option>" for r in fail_reasons)
    rows = "".join(_payment_row(p, reasons) for p in reversed(payments))
    return (
        "<table><tr><th scope='col'>Payment / link</th><th scope='col'>Order code</th>"
        "<th scope='col'>Funds</th><th scope='col'>Comment</th><th scope='col'>Merchant</th>"
        "<th scope='col'>Status</th><th scope='col'>Actions</th></tr>"
        + (rows or "<tr><td colspan='7' class='muted'>No payments yet.</td></tr>")
        + "</table>"
    )


def _attempt_item(a: dict[str, Any]) -> str:
    if a.get("dropped"):
        return "<li>dropped (fault)</li>"
    return (
        f"<li>#{_e(a['number'])} {_e(a['at'])}: {_e(a['statusCode'] or '')} "
        f"{_e(mask_text(a['error'] or ''))} <code>{_e(a['responseBody'])}</code></li>"
    )


def _deliveries_table(deliveries: list[dict[str, Any]]) -> str:
    rows = []
    for d in reversed(deliveries):
        attempts = "".join(_attempt_item(a) for a in d["attempts"])
        resend = _button(f"{API}/deliveries/{d['id']}/resend", "Resend")
        rows.append(
            f"<tr><td>{_e(d['createdAt'])}</td><td>{_e(d['resourceType'])} {_e(d['action'])}"
            f"<br><code>{_e(d['resourceId'])}</code>"
            f"{' (duplicate)' if d['duplicate'] else ''}</td>"
            f"<td><code>{_e(mask_text(d['url']))}</code></td>"
            f"<td>{_e(d['status'])}</td><td>{f'<ul>{attempts}</ul>' if attempts else ''}</td>"
            f"<td>{resend}</td></tr>"
        )
    return (
        "<table><tr><th scope='col'>Created</th><th scope='col'>Event</th>"
        "<th scope='col'>URL</th><th scope='col'>Status</th><th scope='col'>Attempts</th>"
        "<th scope='col'>Actions</th></tr>"
        + ("".join(rows) or "<tr><td colspan='6' class='muted'>No deliveries yet.</td></tr>")
        + "</table>"
    )


def _config_form(state: dict[str, Any]) -> str:
    config = state["webhookConfigs"].get(state["merchant"]["accountSpaceId"])
    config = config or {"url": "", "enabled": True, "retryCount": 5, "webHookTypes": []}
    return (
        f"<form method='post' action='{API}/webhook-config'>"
        "<label for='wh-url'>URL (empty removes the config; the token is shown masked)</label>"
        f"<input id='wh-url' name='url' value='{_e(mask_text(config['url']))}'>"
        "<label class='check'><input type='checkbox' name='enabled'"
        f"{' checked' if config['enabled'] else ''}> enabled</label>"
        "<label for='wh-retry'>retryCount</label>"
        f"<input id='wh-retry' name='retryCount' value='{_e(config['retryCount'])}'>"
        "<label for='wh-types'>webHookTypes</label>"
        f"<input id='wh-types' name='webHookTypes' value='{_e(','.join(config['webHookTypes']))}'>"
        "<p class='actions'><button type='submit'>Save webhook config</button></p></form>"
    )


def _faults_form(faults: dict[str, Any], routes: Iterable[str]) -> str:
    f = faults
    fields = "".join(
        f"<label for='fault-{_e(name)}'>{_e(name)}</label>"
        f"<input id='fault-{_e(name)}' name='{_e(name)}' value='{_e(value)}'>"
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
    return (
        f"<form method='post' action='{API}/faults'>{fields}"
        "<label class='check'><input type='checkbox' name='out_of_order' value='true'"
        f"{' checked' if f['out_of_order'] else ''}> out_of_order (Transaction before Payment)"
        f"</label><p class='muted'>error_routes: {_e(', '.join(routes))} (empty = all)</p>"
        "<p class='actions'><button type='submit'>Save faults</button></p></form>"
    )


def _clock_form(clock: float | None) -> str:
    return (
        f"<form method='post' action='{API}/installment-clock'>"
        "<label for='clock-seconds'>Real seconds per period (empty: off)</label>"
        f"<input id='clock-seconds' name='seconds' value='{_e(clock if clock else '')}'>"
        "<p class='actions'><button type='submit'>Save installment clock</button></p></form>"
    )


def _card(name: str, title: str, html: str) -> str:
    return (
        f"<section class='card' aria-labelledby='{name}-title'>"
        f"<h2 id='{name}-title'>{title}</h2>{html}</section>"
    )


def dashboard(
    *,
    state: dict[str, Any],
    payments: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    fail_reasons: Iterable[str],
    routes: Iterable[str],
) -> str:
    """The control page. `state` and `deliveries` come with webhook tokens already masked."""
    merchant = state["merchant"]
    stored = state.get("stateFile")
    body = (
        "<h1>banq emulator</h1>"
        "<p class='muted'>Not banq: a local stand-in with the shapes the store assumes "
        "(docs/banq-api.md). "
        f"API <code>{_e(state['apiUrl'])}</code>, token <code>{_e(state['tokenUrl'])}</code>, "
        f"widget <code>{_e(state['widgetUrl'])}</code>. Merchant {_e(merchant['name'])}, "
        f"space <code>{_e(merchant['accountSpaceId'])}</code>, banq "
        f"<code>{_e(merchant['banqGuid'])}</code>. "
        + (f"State file <code>{_e(stored)}</code>. " if stored else "State in memory only. ")
        + "<a href='/_emulator/'>Refresh</a></p>"
        + _card("payments", "Payments", _payments_table(payments, fail_reasons))
        + _card("deliveries", "Webhook deliveries", _deliveries_table(deliveries))
        + "<div class='wide'>"
        + _card("config", "Webhook config", _config_form(state))
        + _card("faults", "Faults", _faults_form(state["faults"], routes))
        + _card("clock", "Installment clock", _clock_form(state["installmentClock"]["seconds"]))
        + "</div>"
        + _card("reset", "Reset", _button(f"{API}/reset", "Reset everything", cls="danger"))
    )
    return _page("banq emulator", body)

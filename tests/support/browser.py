"""The browser suite's helpers (tests/browser/): Playwright for Python driving Debian's Chromium
against the real store (daphne), the real task worker and the real banq emulator.

- ``browser_suite_unavailable()``: why the suite can't run here (no Playwright, no Chromium), or
  None. The suite is skipped only for that reason, and ``make test`` says so.
- ``Watch``: everything the suite saw leave a server (pages, JSON, scripts, socket frames, the
  processes' logs) and the secrets that must not be in it (``leaks()``).
- ``PageErrors``: uncaught script errors and console errors of one page, so a broken page script
  or a missing file fails the journey.
- ``CspViolations``: every ``securitypolicyviolation`` event in any page or frame of a browser
  context, so a script, style, frame or connection the Content-Security-Policy blocks fails the
  journey.
- ``axe_violations(page)``: axe-core run in every frame of the page (the banq modal's frame too).
- ``snap(page, name)``: a screenshot under ``screenshots/browser/`` (git-ignored).
- ``Storefront``: what a shopper does, in the shopper's terms (add to cart, check out, Pay,
  pay in the modal), each step waiting for what the shopper would see.

The fixtures that put these together are in ``tests/browser/conftest.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_hex, token_urlsafe
from typing import Any

from storefront.processes import BASE_DIR

try:
    from playwright.sync_api import expect
except ImportError:  # then the suite is skipped, and browser_suite_unavailable() says why
    expect = None  # type: ignore[assignment]

SCREENSHOT_DIR = BASE_DIR / "screenshots" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Waits, in milliseconds: what a shopper would wait for, with room for a loaded 2-core machine.
QUICK = 10_000
SWEEP = 30_000

# The configured secrets of the store under test: fresh each run, so no page holds one by luck.
WEBHOOK_TOKEN = f"browser-webhook-{token_hex(16)}"
SECRET_KEY = f"browser-secret-key-{token_urlsafe(40)}"
# An access token as banq (and the emulator) issue them: a JWT.
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "+json")


def chromium_executable() -> str | None:
    """Debian's Chromium (``apt-get install -y chromium``), or ``$CHROMIUM_PATH``."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def browser_suite_report() -> str:
    """The line ``make test`` prints first: whether the browser suite runs, or why not."""
    reason = browser_suite_unavailable()
    if reason:
        return f"make test: browser tests SKIPPED: {reason}"
    return f"make test: browser tests run in {chromium_executable()} (headless)"


def browser_suite_unavailable() -> str | None:
    """Why the browser suite can't run on this machine, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install '.[dev]')"
    try:
        import axe_playwright_python  # noqa: F401
    except ImportError:
        return "axe-core is not installed (pip install '.[dev]')"
    if chromium_executable() is None:
        return "Chromium is not installed (apt-get install -y chromium)"
    return None


# --- what left the servers, and the secrets that must not be in it ---------------------------


@dataclass
class Watch:
    """Every text the suite saw leave a server, and the secrets none of them may hold."""

    secrets: dict[str, str] = field(default_factory=dict)  # value -> what it is
    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text)

    def secret(self, value: str, what: str) -> None:
        if value:
            self.secrets[value] = what

    def saw(self, where: str, text: str) -> None:
        if text:
            self.texts.append((where, text))

    def leaks(self) -> list[str]:
        """One line per secret found, naming where (never printing the secret itself)."""
        found = []
        for where, text in self.texts:
            for value, what in self.secrets.items():
                if value in text:
                    found.append(f"{what} in {where}")
            if JWT_RE.search(text):
                found.append(f"an access token (JWT) in {where}")
        return sorted(set(found))

    def listen(self, page: Any) -> None:
        """Keep every text response (pages, JSON, scripts) and socket frame this page gets."""

        def on_response(response: Any) -> None:
            content_type = response.headers.get("content-type", "")
            if not any(kind in content_type for kind in TEXT_TYPES):
                return
            try:
                body = response.body()
            except Exception:  # a redirect, or a frame gone before the body was read
                return
            where = f"{response.status} {response.request.method} {response.url}"
            self.saw(where, body.decode("utf-8", "replace"))
            self.saw(f"headers of {where}", repr(response.headers))

        def on_socket(socket: Any) -> None:
            socket.on(
                "framereceived",
                lambda payload: self.saw(f"socket frame from {socket.url}", str(payload)),
            )

        page.on("response", on_response)
        page.on("websocket", on_socket)


@dataclass
class PageErrors:
    """Uncaught script errors and console errors of one page. ``allow(pattern)`` expects some
    (a deliberately failing call logs one); anything else fails the journey at teardown."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def listen(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console: {msg.text} ({msg.location.get('url')})")
                if msg.type == "error"
                else None
            ),
        )

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


# Runs in every frame before its own scripts: reports each violation to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  if (typeof window.__cspViolation === "function") {
    window.__cspViolation({
      directive: event.effectiveDirective,
      blocked: event.blockedURI,
      document: event.documentURI,
      source: event.sourceFile,
      line: event.lineNumber,
      sample: event.sample
    });
  }
}, true);
"""


@dataclass
class CspViolations:
    """The ``securitypolicyviolation`` events of a browser context's pages and frames. Each
    journey must end with none (``tests/browser/conftest.py``); a test that provokes one on
    purpose takes it off with ``expect_and_clear``."""

    found: list[str] = field(default_factory=list)

    def listen(self, context: Any) -> None:
        def report(source: Any, violation: dict[str, Any]) -> None:
            frame = source.get("frame")
            where = frame.url if frame is not None else violation.get("document")
            self.found.append(
                f"{violation.get('directive')} blocked {violation.get('blocked') or 'inline'} "
                f"in {where} ({violation.get('source')}:{violation.get('line')})"
            )

        context.expose_binding("__cspViolation", report)
        context.add_init_script(CSP_LISTENER)

    def expect_and_clear(self, directive: str) -> list[str]:
        """The violations seen so far, all of ``directive`` (else the test fails), forgotten."""
        seen, self.found = self.found, []
        assert seen, f"no violation of {directive}"
        assert all(v.startswith(directive + " ") for v in seen), seen
        return seen


def tokens_issued(emulator: Any) -> list[str]:
    """The access tokens the emulator issued, from its state file (``--state-file``)."""
    try:
        data = json.loads(Path(emulator.state_file).read_text())
    except (OSError, ValueError):
        return []
    return [str(t["token"]) for t in data.get("tokens", [])]


# --- axe-core ---------------------------------------------------------------------------------

AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"], iframes: false});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " " + n.html.slice(0, 160)),
  }));
}"""


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations, of every impact, in the page and each of its frames (each frame is
    checked in its own document: the banq modal's page is another origin)."""
    from axe_playwright_python.base import AXE_SCRIPT

    found = []
    for frame in page.frames:
        if frame.is_detached() or frame.url in ("", "about:blank"):
            continue
        if not frame.evaluate("() => typeof window.axe !== 'undefined'"):
            frame.evaluate(AXE_SCRIPT)
        for v in frame.evaluate(AXE_RUN):
            nodes = "\n      ".join(v["nodes"])
            found.append(f"{v['impact']}: {v['id']} ({v['help']}) in {frame.url}\n      {nodes}")
    return found


# --- screenshots ------------------------------------------------------------------------------


def snap(page: Any, name: str, **options: Any) -> Path:
    """Save a screenshot as screenshots/browser/<name>.png (a test artifact)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path


# --- the shopper ------------------------------------------------------------------------------

# Checkout's shipping address, by the fields' labels.
SHIPPING_ADDRESS = {
    "Full name": "Sam Shopper",
    "Address": "500 Market Street",
    "Address line 2 (optional)": "Apartment 4",
    "City": "San Francisco",
    "Postal code": "94105",
    "State, province or region (optional)": "CA",
    "Country": "US",
}
ORDER_URL_RE = re.compile(r"/orders/([0-9a-f-]{36})/(\?.*)?$")
PAY_IN_MODAL_RE = re.compile(r"^Pay \$")


class Storefront:
    """A shopper in one browser page. Every step waits for what the shopper would see next; the
    journey's ``check(page, label)`` (axe-core) runs on each page it reaches."""

    def __init__(self, page: Any, base_url: str, check: Any) -> None:
        self.page = page
        self.base_url = base_url
        self.check = check

    # pages

    def catalog(self) -> None:
        self.page.goto(self.base_url + "/")
        expect(self.page.get_by_role("heading", name="Catalog", level=1)).to_be_visible()
        self.check(self.page, "catalog")

    def add_to_cart(self, product_name: str) -> None:
        card = self.page.locator(".product-card").filter(has_text=product_name)
        card.get_by_role("button", name="Add to cart").click()
        expect(self.page.get_by_role("heading", name="Your cart", level=1)).to_be_visible()
        expect(self.page.get_by_role("link", name=product_name)).to_be_visible()

    def cart_row(self, product_name: str) -> Any:
        return self.page.locator("table.lines tbody tr").filter(has_text=product_name)

    def set_quantity(self, product_name: str, quantity: int) -> None:
        """Change a line's quantity; waits for the cart to show the line's new total."""
        row = self.cart_row(product_name)
        line_total = row.locator('td[data-label="Total"]')
        before = line_total.inner_text()
        row.get_by_label(f"Quantity of {product_name}").fill(str(quantity))
        row.get_by_role("button", name="Update").click()
        expect(line_total).not_to_have_text(before)

    def remove(self, product_name: str) -> None:
        self.cart_row(product_name).get_by_role("button", name="Remove").click()
        expect(self.cart_row(product_name)).to_have_count(0)

    def go_to_checkout(self) -> None:
        self.page.get_by_role("link", name="Checkout").click()
        expect(self.page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()

    def place_order(self, email: str = "sam@example.com", name: str = "Sam Shopper") -> str:
        """Fill in the checkout form and place the order; returns the order's public id. A cart
        that ships gets ``SHIPPING_ADDRESS`` and the first shipping method (preselected)."""
        self.page.get_by_label("E-mail").fill(email)
        self.page.get_by_label("Name", exact=True).fill(name)
        if self.page.locator("[data-shipping-address]").count():
            self.fill_address()
        self.page.get_by_role("button", name="Place order").click()
        expect(self.page).to_have_url(ORDER_URL_RE)
        match = ORDER_URL_RE.search(self.page.url)
        assert match, self.page.url
        expect(self.pay_button).to_be_visible()
        return match.group(1)

    def fill_address(self, **changes: str) -> None:
        """Fill in checkout's shipping address: ``SHIPPING_ADDRESS`` with ``changes`` (labels)."""
        address = {**SHIPPING_ADDRESS, **changes}
        form = self.page.locator("[data-shipping-address]")
        for label, value in address.items():
            field = form.get_by_label(label, exact=True)
            if label == "Country":
                field.select_option(value)
            else:
                field.fill(value)

    def order_with(self, *product_names: str) -> str:
        """Catalog, the products into the cart, checkout: the order page, ready to pay."""
        self.catalog()
        for product_name in product_names:
            self.add_to_cart(product_name)
            if product_name != product_names[-1]:
                self.page.get_by_role("link", name="Shop").click()
        self.go_to_checkout()
        return self.place_order()

    # the payment block

    @property
    def pay_button(self) -> Any:
        return self.page.locator("#pay-with-banq").get_by_role("button")

    @property
    def dialog(self) -> Any:
        return self.page.get_by_role("dialog", name="Pay with banq")

    @property
    def modal(self) -> Any:
        """The banq payment page inside the modal (a FrameLocator)."""
        return self.page.frame_locator("iframe.banq-widget__frame")

    @property
    def confirmation(self) -> Any:
        return self.page.locator('#order-payment [data-when="paid"]')

    def open_modal(self) -> None:
        self.pay_button.click()
        self.wait_for_modal()

    def wait_for_modal(self, timeout: int = QUICK) -> None:
        expect(self.dialog).to_be_visible(timeout=timeout)
        expect(self.modal.get_by_role("button", name=PAY_IN_MODAL_RE)).to_be_visible()

    def pay_in_modal(self) -> None:
        self.modal.get_by_role("button", name=PAY_IN_MODAL_RE).click()

    def approve_url(self) -> str:
        """The "banq app" link behind the modal's QR code."""
        link = self.modal.get_by_role("link", name="the banq app approval page")
        href = link.get_attribute("href")
        assert href is not None
        assert "/app/approve/" in href, href
        return href

    def expect_confirmation(self, timeout: int = QUICK) -> None:
        expect(self.confirmation).to_be_visible(timeout=timeout)
        expect(self.confirmation).to_contain_text("Payment confirmed.")
        expect(self.page.locator("#order-status")).to_have_text("Paid")
        expect(self.dialog).to_have_count(0)


def focused_in_modal(page: Any) -> bool:
    """Is the page's focus inside the banq modal (its frame counts)?"""
    return page.evaluate(
        "() => Boolean(document.activeElement"
        " && document.activeElement.closest('.banq-widget__overlay'))"
    )


def box_of(locator: Any) -> dict[str, float]:
    """Where the element is on the screen (it must be there)."""
    found = locator.bounding_box()
    assert found is not None, f"not on the screen: {locator}"
    return found


def focused_in_frame(page: Any) -> str | None:
    """The id (or tag) of the focused element inside the modal's payment page, if focus is there."""
    if page.evaluate("() => document.activeElement && document.activeElement.tagName") != "IFRAME":
        return None
    frame = modal_frame(page)
    return frame.evaluate(
        "() => document.activeElement && (document.activeElement.id ||"
        " document.activeElement.tagName.toLowerCase())"
    )


def modal_frame(page: Any) -> Any:
    """banq's page inside the modal: its widget page (``/widget/``), or the page its forms led to
    (``/link/<code>/pay``)."""
    return next(f for f in page.frames if "/widget" in f.url or "/link/" in f.url)


# --- layout on the screen ---------------------------------------------------------------------

# Every control a shopper can tap, seen on the screen (not the visually hidden ones, not those
# inside a closed <details>), whose box is under 24 x 24 CSS px (WCAG 2.5.8, target size
# minimum). A link inside a sentence is exempt, as WCAG exempts inline targets.
SMALL_TARGETS = """(min) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, '
    + '[tabindex]:not([tabindex="-1"])';
  const inSentence = el => el.tagName === 'A' && getComputedStyle(el).display === 'inline'
    && Array.from(el.parentElement.childNodes).some(
      n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  return Array.from(document.querySelectorAll(selector)).filter(el => {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1 || getComputedStyle(el).visibility === 'hidden') {
      return false;
    }
    if (el.closest('.sr-only, .banq-widget__sr, .skip-link') || inSentence(el)) return false;
    return box.width < min - 0.01 || box.height < min - 0.01;
  }).map(el => {
    const box = el.getBoundingClientRect();
    return `${Math.round(box.width * 10) / 10} x ${Math.round(box.height * 10) / 10}: `
      + el.outerHTML.slice(0, 100);
  });
}"""

# Every element on the screen whose right edge passes the document's width (a clipped,
# visually hidden element does not count).
PAST_THE_EDGE = """() => {
  const width = document.documentElement.clientWidth;
  return Array.from(document.body.querySelectorAll('*')).filter(el => {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') return false;
    if (el.closest('.sr-only, .banq-widget__sr, .skip-link')) return false;
    return box.right > width + 0.5 || box.left < -0.5;
  }).map(el => `${Math.round(el.getBoundingClientRect().right)} px: `
    + el.outerHTML.slice(0, 100));
}"""

TAP_TARGET_MIN = 24


def small_targets(frame: Any) -> list[str]:
    """The controls of a page (or a frame) smaller than 24 x 24 px, described."""
    return frame.evaluate(SMALL_TARGETS, TAP_TARGET_MIN)


def past_the_edge(frame: Any) -> list[str]:
    """The elements of a page (or a frame) that pass its right or left edge, described."""
    return frame.evaluate(PAST_THE_EDGE)

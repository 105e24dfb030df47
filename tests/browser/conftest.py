"""Fixtures of the browser suite: Chromium (headless, Debian's), the real banq emulator, and per
journey the real store (daphne) and the real task worker on free ports, sharing the test database.

Skipped as a whole, with the reason, only when Playwright or Chromium is missing (``make test``
prints that line too). Playwright's sync API keeps an event loop running in this thread while it
is alive, so Django's "no database from async code" guard is lifted for this package only, and
Playwright stops when the package's last test is done (the async tests after it need the thread
without a loop).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    CHROMIUM_ARGS,
    DESKTOP,
    SECRET_KEY,
    WEBHOOK_TOKEN,
    CspViolations,
    PageErrors,
    Storefront,
    Watch,
    axe_violations,
    browser_suite_unavailable,
    chromium_executable,
    tokens_issued,
)
from tests.support.emulator import (
    EMULATOR_CREDENTIALS,
    EmulatorHandle,
    start_emulator,
    stop_emulator,
)
from tests.support.live_store import LiveStore
from tests.support.live_worker import LiveWorker

HERE = Path(__file__).resolve().parent
UNAVAILABLE = browser_suite_unavailable()
LAST = "test_no_secret_reached_a_page_a_log_or_an_error"
# BROWSER_TESTS=require (set by .ci/run): a machine that can't run the suite fails it, not skips.
REQUIRED = os.environ.get("BROWSER_TESTS") == "require"


def _in_suite(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the suite ``browser``; skip it when it can't run here; run the secrets check after
    every journey."""
    ours = [item for item in items if _in_suite(item)]
    for item in ours:
        item.add_marker(pytest.mark.browser)
        if UNAVAILABLE and not REQUIRED:
            item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {UNAVAILABLE}"))
    last = [item for item in ours if item.name == LAST]
    if last and ours[-1] is not last[0]:
        items.remove(last[0])
        items.insert(items.index(ours[-1]) + 1, last[0])


def pytest_report_header(config: pytest.Config) -> str:
    if UNAVAILABLE:
        return f"browser tests: {'FAILING' if REQUIRED else 'SKIPPED'}: {UNAVAILABLE}"
    return f"browser tests: Chromium at {chromium_executable()}, headless"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if UNAVAILABLE and not REQUIRED:
        terminalreporter.write_line(f"browser tests SKIPPED: {UNAVAILABLE}", yellow=True, bold=True)


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Any]:
    if UNAVAILABLE:
        pytest.fail(f"browser tests are required here (BROWSER_TESTS=require): {UNAVAILABLE}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with pytest.MonkeyPatch.context() as patch:
        # The test process reads the shared database between browser steps.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        driver = sync_playwright().start()
        try:
            yield driver
        finally:
            driver.stop()


@pytest.fixture(scope="package")
def chromium(playwright_driver) -> Iterator[Any]:
    browser = playwright_driver.chromium.launch(
        executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def watch() -> Watch:
    """What left the servers during the whole suite, and the secrets none of it may hold."""
    found = Watch()
    found.secret(EMULATOR_CREDENTIALS["BANQ_PASSWORD"], "the banq password")
    found.secret(WEBHOOK_TOKEN, "the webhook token")
    found.secret(SECRET_KEY, "the Django secret key")
    return found


@pytest.fixture
def new_page(chromium, watch) -> Iterator[Callable[..., Any]]:
    """``new_page(viewport=DESKTOP, **context_options)``: a page in a fresh browser context (its
    own cookies: another shopper). Its responses go to ``watch``; an uncaught script error or a
    console error it did not ``errors_of(page).allow(...)`` fails the journey, and so does any
    Content-Security-Policy violation in any of its pages or frames (``new_page.csp``)."""
    contexts: list[Any] = []
    errors: dict[Any, PageErrors] = {}
    violations = CspViolations()

    def open_page(viewport: dict[str, int] | None = None, **options: Any) -> Any:
        options.setdefault("locale", "en-US")
        context = chromium.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(10_000)
        violations.listen(context)
        contexts.append(context)
        page = context.new_page()
        watch.listen(page)
        errors[page] = PageErrors()
        errors[page].listen(page)
        context.on("page", lambda popup: (watch.listen(popup), errors[page].listen(popup)))
        return page

    open_page.errors_of = lambda page: errors[page]  # type: ignore[attr-defined]
    open_page.csp = violations  # type: ignore[attr-defined]
    yield open_page
    for context in contexts:
        context.close()
    assert not violations.found, "Content-Security-Policy violations:\n" + "\n".join(
        violations.found
    )
    unexpected = [e for found in errors.values() for e in found.unexpected()]
    assert not unexpected, "the pages logged errors:\n" + "\n".join(unexpected)


@pytest.fixture
def check() -> Callable[[Any, str], None]:
    """``check(page, label)``: axe-core finds no violation at all (critical, serious, moderate or
    minor) in the page and its frames."""

    def run(page: Any, label: str) -> None:
        violations = axe_violations(page)
        assert not violations, f"axe-core on {label} ({page.url}):\n" + "\n".join(violations)

    return run


# --- banq (the emulator) ------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser_emulator() -> Iterator[EmulatorHandle]:
    """The suite's own emulator. Its state file holds the access tokens it issued, which the
    secrets check must not find anywhere; its log is read by that check."""
    with tempfile.TemporaryDirectory(prefix="browser-emulator-") as tmp:
        state_file = Path(tmp) / "state.json"
        process, url = start_emulator(
            "--seed", "2468", "--retry-backoff", "0.05", "--state-file", str(state_file)
        )
        handle = EmulatorHandle(url, process)
        handle.state_file = state_file  # type: ignore[attr-defined]
        try:
            yield handle
        finally:
            stop_emulator(process)


@pytest.fixture
def emulator(browser_emulator, watch) -> Iterator[EmulatorHandle]:
    """The suite's emulator, reset before and after each journey."""
    assert browser_emulator.process.poll() is None, "the banq emulator died"
    browser_emulator.reset()
    yield browser_emulator
    for token in tokens_issued(browser_emulator):
        watch.secret(token, "a banq access token")
    browser_emulator.reset()


# --- the store and its worker -------------------------------------------------------------------


@dataclass
class Shop:
    url: str
    store: LiveStore
    worker: LiveWorker
    emulator: EmulatorHandle
    env: dict[str, str]
    media_root: Path

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks/banq/{WEBHOOK_TOKEN}/payment-status/"


@pytest.fixture
def shop(
    transactional_db,
    settings,
    emulator,
    live_store_factory,
    live_worker_factory,
    watch,
    tmp_path_factory,
) -> Iterator[Shop]:
    """The store (daphne) and its task worker against the suite's emulator, with its webhook
    registered at banq; the demo catalog loaded; uploads in a directory of the journey's own
    (``media_root``). Their logs (the access log too) go to ``watch`` at the end."""
    from django.core.management import call_command

    settings.SECRET_KEY = SECRET_KEY  # signed order links made here must work there
    settings.BANQ_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    media_root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = media_root
    call_command("load_demo_catalog", verbosity=0)
    env = {
        "BANQ_ENVIRONMENT": "emulator",
        "BANQ_EMULATOR_URL": emulator.url,
        "BANQ_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "LOG_LEVEL": "DEBUG",  # the most a log can say: still no secret
        "BANQ_SWEEP_SCHEDULE": "1s,2s,4s,8s",
        "ORDER_STATUS_RECHECK_SECONDS": "0.5",
        "MEDIA_ROOT": str(media_root),
    }
    store = live_store_factory(env, access_log=True)
    worker = live_worker_factory({**env, "STOREFRONT_URL": store.url})
    found = Shop(
        url=store.url,
        store=store,
        worker=worker,
        emulator=emulator,
        env=env,
        media_root=media_root,
    )
    emulator.set_webhook_config(found.webhook_url)
    yield found
    watch.saw("the store's log", store.output())
    watch.saw("the worker's log", worker.output())


@pytest.fixture
def shopper(shop, new_page, check) -> Storefront:
    """A shopper on a desktop browser (1280 x 800), at the store."""
    return Storefront(new_page(), shop.url, check)

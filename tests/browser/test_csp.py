"""The Content-Security-Policy in a real browser: every page's document has one with a nonce,
an inline script that slipped into a page does not run, the suite sees the violation (every
journey fails on one) and the browser reports it to the store."""

from __future__ import annotations

import re

import pytest

from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

INJECT = """() => new Promise((resolve) => {
  window.__ran = false;
  const script = document.createElement("script");
  script.textContent = "window.__ran = true;";
  document.body.appendChild(script);
  setTimeout(() => resolve(window.__ran), 200);
})"""


def test_an_inline_script_without_the_nonce_is_blocked_seen_and_reported(shop, shopper, new_page):
    page = shopper.page
    response = page.goto(shop.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9+/=]+'", policy), policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    new_page.errors_of(page).allow("inline script violates the following Content Security Policy")

    ran = page.evaluate(INJECT)

    assert ran is False
    wait_for(lambda: new_page.csp.found, timeout=5, what="the suite sees the violation")
    new_page.csp.expect_and_clear("script-src-elem")
    wait_for(
        lambda: "CSP violation: script-src-elem blocked inline" in shop.store.output(),
        timeout=10,
        what="the browser's report in the store's log",
    )

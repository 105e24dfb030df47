"""The admin's sign-in in the browser: a lockout after wrong passwords (the right one is then
refused, with the message saying so) that the unlock command lifts; outside emulator mode, staff
are asked for their authenticator app's code, and set one up the first time."""

from __future__ import annotations

import re
from secrets import token_urlsafe

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.support.browser import DESKTOP, expect
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "merchant-pw-7291"


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def code_of(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def test_six_wrong_passwords_lock_the_admin_until_the_unlock_command(shop, new_page, check):
    get_user_model().objects.create_superuser("merchant", "merchant@example.com", PASSWORD)
    page = new_page(DESKTOP)
    new_page.errors_of(page).allow(r"status of 429 ")  # the lockout page

    for attempt in range(6):
        sign_in(page, shop.url, "merchant", f"wrong-{attempt}")
    expect(page.get_by_role("heading", name="Sign-in locked", level=1)).to_be_visible()

    sign_in(page, shop.url, "merchant", PASSWORD)  # the right one, refused
    expect(page.get_by_role("heading", name="Sign-in locked", level=1)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    expect(page.get_by_role("alert")).to_contain_text("not even the right one")
    check(page, "sign-in locked")
    page.goto(shop.url + "/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))

    call_command("axes_reset_username", "merchant")  # the operator unlocks it

    sign_in(page, shop.url, "merchant", PASSWORD)
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


@pytest.fixture
def production_store(live_store_factory, settings):
    """The store outside emulator mode (sandbox, banq never called here): staff need a second
    factor."""
    key = f"signin-secret-key-{token_urlsafe(32)}"
    settings.SECRET_KEY = key
    return live_store_factory(
        {
            "BANQ_ENVIRONMENT": "sandbox",
            "DJANGO_SECRET_KEY": key,
            "BANQ_CLIENT_ID": "sandbox-client-id",
            "BANQ_USERNAME": "api-user@shop.example.com",
            "BANQ_PASSWORD": "sandbox-password-0123",
            "BANQ_MERCHANT_GUID": "6f1c2b9e-0000-4c5b-8e7f-9a0b1c2d3e4f",
            "BANQ_ACCOUNT_SPACE_ID": "3a7d9c1e-0000-4e8a-9c6d-0f1e2d3c4b5a",
            "BANQ_WEBHOOK_TOKEN": f"signin-webhook-{token_urlsafe(24)}",
            # Outside emulator mode e-mail must be delivered (storefront.E008); none is sent here.
            "EMAIL_URL": "smtp://127.0.0.1:25",
            # Lifted for this test process only (tests/browser/conftest.py): check --deploy, run
            # by the store outside emulator mode, refuses it.
            "DJANGO_ALLOW_ASYNC_UNSAFE": "",
        }
    )


def test_staff_sign_in_outside_emulator_mode_asks_for_the_authenticator_code(
    production_store, new_page, check
):
    url = production_store.url
    staff = get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)

    # The first time: the password, then setting up the app (a QR code), then recovery codes.
    page = new_page(DESKTOP)
    sign_in(page, url, "ops", PASSWORD)
    expect(page.get_by_role("heading", name="Set up two-step verification")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    check(page, "two-step setup")
    page.goto(url + "/admin/orders/order/")  # no admin page before it is done
    expect(page.get_by_role("heading", name="Set up two-step verification")).to_be_visible()
    device = wait_for(
        lambda: TOTPDevice.objects.filter(user=staff, confirmed=False).first(),
        timeout=5,
        what="the app being set up",
    )
    page.get_by_label("Authentication code").fill(code_of(device))
    page.get_by_role("button", name="Confirm").click()
    codes = page.locator("[data-recovery-codes] code")
    expect(codes).to_have_count(10)
    check(page, "recovery codes")
    recovery = codes.first.inner_text()
    page.get_by_role("link", name=re.compile("continue")).click()
    expect(page).to_have_url(re.compile(r"/admin/orders/order/$"))  # where they were going
    expect(page.get_by_role("heading", name="Select order to change")).to_be_visible()

    # Next time, in another browser: the password, then the code.
    other = new_page(DESKTOP)
    sign_in(other, url, "ops", PASSWORD)
    expect(other.get_by_role("heading", name="Two-step verification")).to_be_visible()
    expect(other.get_by_label("Authentication code")).to_be_focused()
    check(other, "two-step verification")
    other.get_by_label("Authentication code").fill("000000")
    other.get_by_role("button", name="Verify").click()
    expect(other.get_by_text("That code is not valid")).to_be_visible()
    other.goto(url + "/admin/")
    expect(other.get_by_role("heading", name="Two-step verification")).to_be_visible()
    # The app's code of this moment was used to set it up: a recovery code, then.
    other.get_by_label("Authentication code").fill(recovery)
    other.get_by_role("button", name="Verify").click()
    expect(other.get_by_role("heading", name="Site administration")).to_be_visible()

"""Signing in to the admin: the lockout after failed passwords (per user and client address,
the edge's address, never X-Forwarded-For), the unlock command, and the second factor (TOTP with
recovery codes; required outside emulator mode, warned about by check --deploy when relaxed)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import Warning
from django.core.management import call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from storefront.checks import storefront_deploy_check

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-4821"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The real hasher takes a good part of a second per sign-in, by design; not what this tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff():
    return get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)


def sign_in(client: Client, password: str, *, username: str = "boss", **extra):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, **extra
    )


def code_of(device: TOTPDevice, *, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():0{device.digits}d}"


def app_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


# --- lockout --------------------------------------------------------------------------------------


def test_wrong_passwords_lock_the_account_and_the_right_one_is_then_refused(client, staff):
    answers = [sign_in(client, "wrong").status_code for _ in range(6)]
    locked = sign_in(client, PASSWORD)

    assert answers[:4] == [200] * 4  # the login form again, with its error
    assert answers[4:] == [429, 429]
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "<h1>Sign-in locked</h1>" in page
    assert "Too many failed sign-ins" in page
    assert "for 30 minutes" in page
    assert client.get("/admin/").status_code == 302  # not signed in


def test_the_unlock_command_lets_the_right_password_in(client, staff):
    for _ in range(6):
        sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 429

    call_command("axes_reset_username", "boss")

    response = sign_in(client, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_lockout_is_per_user_and_address(client, staff):
    for _ in range(6):
        sign_in(client, "wrong", REMOTE_ADDR="203.0.113.5")

    elsewhere = sign_in(Client(), PASSWORD, REMOTE_ADDR="203.0.113.6")

    assert elsewhere.status_code == 302


def test_a_forwarded_for_header_does_not_change_the_counted_address(client, staff):
    """Only the address the store's edge resolved counts (REMOTE_ADDR): a client writing
    X-Forwarded-For can't spread its failures over made-up addresses."""
    for n in range(6):
        sign_in(client, "wrong", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    response = sign_in(client, PASSWORD, REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert response.status_code == 429


# --- the second factor ----------------------------------------------------------------------------


def test_a_staff_member_with_an_app_is_asked_for_its_code(client, staff):
    device = app_device(staff)

    response = sign_in(client, PASSWORD)
    assert response.status_code == 302
    step = client.get(response["Location"])  # the admin sends them to the code page
    assert step.status_code == 302
    assert step["Location"].startswith("/admin/two-factor/?next=")
    page = client.get(step["Location"]).content.decode()
    assert "Authentication code" in page

    wrong = client.post("/admin/two-factor/", {"code": "000000", "next": "/admin/"})
    assert "That code is not valid" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302

    device.refresh_from_db()
    device.throttle_reset()
    right = client.post("/admin/two-factor/", {"code": code_of(device), "next": "/admin/orders/"})
    assert right.status_code == 302
    assert right["Location"] == "/admin/orders/"
    assert client.get("/admin/").status_code == 200


def test_wrong_codes_are_throttled(client, staff):
    device = app_device(staff)
    sign_in(client, PASSWORD)

    client.post("/admin/two-factor/", {"code": "000000"})
    again = client.post("/admin/two-factor/", {"code": code_of(device)})

    assert "Too many wrong codes: try again in" in again.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(client, staff):
    app_device(staff)
    recovery = StaticDevice.objects.create(user=staff, name="Recovery codes", confirmed=True)
    StaticToken.objects.create(device=recovery, token="abcd2345")

    sign_in(client, PASSWORD)
    assert client.post("/admin/two-factor/", {"code": "ABCD 2345"}).status_code == 302
    assert client.get("/admin/").status_code == 200

    other = Client()
    sign_in(other, PASSWORD)
    used_again = other.post("/admin/two-factor/", {"code": "abcd2345"})
    assert "That code is not valid" in used_again.content.decode()


def test_required_two_factor_sends_staff_without_one_to_set_it_up(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True

    sign_in(client, PASSWORD)
    step = client.get("/admin/orders/order/")
    assert step.status_code == 302
    assert step["Location"].startswith("/admin/two-factor/setup/?next=")

    page = client.get(step["Location"]).content.decode()
    assert 'src="data:image/svg+xml' in page  # the QR code
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    wrong = client.post("/admin/two-factor/setup/", {"code": "123456", "next": "/admin/"})
    assert "That code is not valid" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()

    done = client.post("/admin/two-factor/setup/", {"code": code_of(device), "next": "/admin/"})

    assert done.status_code == 302
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", codes_page)
    assert len(codes) == 10
    assert "they are not shown again" in codes_page
    assert client.get(done["Location"]).content.decode().count("<li><code>") == 0  # once
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/orders/order/").status_code == 200
    # The next sign-in asks for the app's code, and takes a recovery code instead.
    fresh = Client()
    sign_in(fresh, PASSWORD)
    assert fresh.get("/admin/")["Location"].startswith("/admin/two-factor/?next=")
    assert fresh.post("/admin/two-factor/", {"code": codes[0]}).status_code == 302
    assert fresh.get("/admin/").status_code == 200


def test_relaxed_two_factor_lets_staff_without_one_in_with_the_password(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False  # emulator mode's default: the demo admin

    sign_in(client, PASSWORD)

    assert client.get("/admin/").status_code == 200


def test_setting_up_an_app_never_gets_round_a_second_factor_one_has(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    recovery = StaticDevice.objects.create(user=staff, name="Recovery codes", confirmed=True)
    StaticToken.objects.create(device=recovery, token="abcd2345")
    sign_in(client, PASSWORD)

    response = client.get("/admin/two-factor/setup/")

    assert response.status_code == 302  # to the code page's next: the admin, which asks
    assert client.get(response["Location"])["Location"].startswith("/admin/two-factor/?")
    assert not TOTPDevice.objects.filter(user=staff).exists()


def test_check_deploy_warns_when_two_factor_is_relaxed_outside_emulator_mode(settings):
    settings.BANQ_ENVIRONMENT = "production"
    settings.ADMIN_REQUIRE_2FA = False

    messages = storefront_deploy_check()

    assert [(type(m), m.id) for m in messages] == [(Warning, "storefront.W006")]
    settings.ADMIN_REQUIRE_2FA = True
    assert storefront_deploy_check() == []
    settings.BANQ_ENVIRONMENT = "emulator"
    settings.ADMIN_REQUIRE_2FA = False
    assert storefront_deploy_check() == []


def test_a_staff_member_asked_for_the_code_can_sign_out(client, staff):
    app_device(staff)
    sign_in(client, PASSWORD)
    assert client.get("/admin/")["Location"].startswith("/admin/two-factor/")

    response = client.post("/admin/logout/")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/")["Location"].startswith("/admin/login/")

"""Signing in to the admin: a lockout after failed passwords (django-axes) and a second factor
(TOTP with recovery codes, django-otp).

**Lockout.** Failed passwords are counted per user name and client address together
(``AXES_*`` settings); after ``ADMIN_LOGIN_FAILURE_LIMIT`` of them that pair is refused, even with
the right password, for ``ADMIN_LOCKOUT_MINUTES``, with the page ``admin/locked_out.html`` (429).
The address is the one the store's edge resolved behind ``DJANGO_TRUSTED_PROXIES``
(``client_address``), never ``X-Forwarded-For`` as a client wrote it. An operator unlocks with
django-axes' commands: ``manage.py axes_reset_username <name>`` (every address),
``axes_reset_ip_username <address> <name>``, ``axes_reset`` (everyone); ``axes_list_attempts``
lists them.

**Second factor.** After the password, a staff member who set up an authenticator app is asked
for its 6-digit code (or one of their recovery codes, each good once) before any admin page
(``/admin/two-factor/``). With ``ADMIN_REQUIRE_2FA`` (the default outside emulator mode), a staff
member without one is first taken to set it up (``/admin/two-factor/setup/``: a QR code to scan,
a code to confirm it), and gets ten recovery codes, shown once. Without it (emulator mode) the
demo admin signs in with the password alone. ``/admin/two-factor/recovery-codes/`` makes new
ones. A lost phone: a superuser deletes the person's device in the admin (OTP > TOTP devices), or
an operator gives them a one-time code with ``manage.py addstatictoken <name>``. Codes are
throttled by django-otp (each wrong one doubles the wait).

``StoreAdminSite`` is Django's admin site with that gate in front of every admin view.
"""

from __future__ import annotations

import functools
import logging
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

logger = logging.getLogger(__name__)

RECOVERY_CODES = 10
SETUP_DEVICE_KEY = "storefront_two_factor_setup"
NEW_CODES_KEY = "storefront_two_factor_new_codes"
VERIFY = "admin:two-factor-verify"
SETUP = "admin:two-factor-setup"


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in (``AXES_LOCKOUT_CALLABLE``): the admin's page
    saying so, with 429."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    logger.warning("Admin sign-in refused: locked out (address %s)", client_address(request))
    context = {**admin.site.each_context(request), "title": "Sign-in locked", "minutes": minutes}
    return render(request, "admin/locked_out.html", context, status=429)


def client_address(request: HttpRequest) -> str | None:
    """django-axes' client address (``AXES_CLIENT_IP_CALLABLE``): ``REMOTE_ADDR``, which the edge
    set to the client's own address behind trusted proxies (``storefront.edge``)."""
    return request.META.get("REMOTE_ADDR") or None


# --- the policy ---------------------------------------------------------------------------------


def second_factor_step(request: HttpRequest) -> str | None:
    """The URL name of the page a signed-in staff member must pass before the admin (verify the
    code, or set up a second factor), or None when there is none."""
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return None
    if getattr(user, "is_verified", lambda: False)():
        return None
    if not hasattr(request, "_second_factor_step"):
        if user_has_device(user):
            step: str | None = VERIFY
        else:
            step = SETUP if settings.ADMIN_REQUIRE_2FA else None
        request._second_factor_step = step  # type: ignore[attr-defined]
    return request._second_factor_step  # type: ignore[attr-defined]


def _next_url(request: HttpRequest) -> str:
    """Where to go after the second factor: the ``next`` the page came with, if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _redirect_to(step: str, next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(step)}?{urlencode({'next': next_url})}")


# --- codes --------------------------------------------------------------------------------------


def second_factor_verify(*, user, token: str) -> tuple[object | None, str]:
    """The device that accepts ``token`` (a TOTP code: digits; else a recovery code), or None and
    why not. Each device throttles its own failures."""
    token = "".join(token.split()).lower()
    if not token:
        return None, "Enter the code."
    # An app's code is 6 digits; recovery codes are 8 characters of base32.
    kind = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    with transaction.atomic():
        for device in devices_for_user(user, for_verify=True):
            if not isinstance(device, kind):
                continue
            allowed, why = device.verify_is_allowed()
            if not allowed:
                until = (why or {}).get("locked_until")
                wait = int((until - timezone.now()).total_seconds()) + 1 if until else 1
                return None, f"Too many wrong codes: try again in {max(wait, 1)} seconds."
            if device.verify_token(token):
                return device, ""
    return None, "That code is not valid. Enter the current code from your authenticator app."


def recovery_codes_replace(*, user) -> list[str]:
    """Ten new recovery codes for ``user`` (any earlier ones stop working); shown once."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(
            user=user, name="Recovery codes", defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def totp_device_for_setup(*, request: HttpRequest) -> TOTPDevice:
    """The unconfirmed authenticator-app device this session is setting up (made once)."""
    user = request.user
    device = TOTPDevice.objects.filter(
        pk=request.session.get(SETUP_DEVICE_KEY), user=user, confirmed=False
    ).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
        request.session[SETUP_DEVICE_KEY] = device.pk
    return device


def totp_setup_confirm(*, request: HttpRequest, device: TOTPDevice) -> list[str]:
    """The code matched: the device is the user's second factor, this session is verified, and
    the user's recovery codes are new (returned)."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
        codes = recovery_codes_replace(user=device.user)
    otp_login(request, device)
    request.session.pop(SETUP_DEVICE_KEY, None)
    logger.info("Staff user %s set up a second factor", device.user.pk)
    return codes


# --- pages --------------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Authentication code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


def _page(site, request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {**site.each_context(request), "title": title, "next": _next_url(request), **context},
    )


def two_factor_verify(site, request: HttpRequest) -> HttpResponse:
    """``/admin/two-factor/``: the code of the staff member's authenticator app (or a recovery
    code), after the password."""
    if second_factor_step(request) != VERIFY:
        return HttpResponseRedirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device, problem = second_factor_verify(user=request.user, token=form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                logger.warning(
                    "Staff user %s used a recovery code (%s left)", request.user.pk, left
                )
            return HttpResponseRedirect(_next_url(request))
        form.add_error("code", problem)
    return _page(site, request, "admin/two_factor/verify.html", "Two-step verification", form=form)


def _may_set_up(request: HttpRequest) -> bool:
    """A staff member without an authenticator app may set one up when they have no second factor
    at all, or passed it (with a recovery code, say): never to get round one they have."""
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return False
    return user.is_verified() or not user_has_device(user)


def two_factor_setup(site, request: HttpRequest) -> HttpResponse:
    """``/admin/two-factor/setup/``: scan the QR code with an authenticator app, enter its code."""
    if not _may_set_up(request):
        return HttpResponseRedirect(_next_url(request))
    device = totp_device_for_setup(request=request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token("".join(form.cleaned_data["code"].split())):
            request.session[NEW_CODES_KEY] = totp_setup_confirm(request=request, device=device)
            codes_url = reverse("admin:two-factor-recovery-codes")
            return HttpResponseRedirect(f"{codes_url}?{urlencode({'next': _next_url(request)})}")
        form.add_error("code", "That code is not valid. Enter the current code the app shows.")
    key = b32encode(device.bin_key).decode()
    return _page(
        site,
        request,
        "admin/two_factor/setup.html",
        "Set up two-step verification",
        form=form,
        qr=segno.make(device.config_url, error="m").svg_data_uri(scale=4),
        key=" ".join(key[i : i + 4] for i in range(0, len(key), 4)),
    )


def recovery_codes(site, request: HttpRequest) -> HttpResponse:
    """``/admin/two-factor/recovery-codes/``: the codes just made (shown once), or how many are
    left and a button for new ones."""
    codes = request.session.pop(NEW_CODES_KEY, None)
    if request.method == "POST" and request.user.is_verified():
        codes = recovery_codes_replace(user=request.user)
        logger.info("Staff user %s made new recovery codes", request.user.pk)
    device = StaticDevice.objects.filter(user=request.user, name="Recovery codes").first()
    return _page(
        site,
        request,
        "admin/two_factor/recovery_codes.html",
        "Two-step verification",
        codes=codes,
        left=device.token_set.count() if device else 0,
        has_app=TOTPDevice.objects.filter(user=request.user, confirmed=True).exists(),
        verified=request.user.is_verified(),
    )


class StoreAdminSite(admin.AdminSite):
    """Django's admin site with the second factor in front of every admin view (module doc),
    headed with the store's name (``STORE_NAME``) rather than "Django administration"."""

    index_title = "Site administration"

    @property  # type: ignore[override]
    def site_header(self) -> str:
        return settings.STORE_NAME

    @property  # type: ignore[override]
    def site_title(self) -> str:
        return f"{settings.STORE_NAME} admin"

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        # Signing out needs no second factor (the code page offers it).
        return self._signing_out(request) or second_factor_step(request) is None

    def _signing_out(self, request: HttpRequest) -> bool:
        return request.path == reverse("admin:logout", current_app=self.name)

    def admin_view(self, view, cacheable: bool = False):
        inner = super().admin_view(view, cacheable)

        def gate(request: HttpRequest, *args, **kwargs):
            step = None if self._signing_out(request) else second_factor_step(request)
            if step is not None:
                return _redirect_to(step, request.get_full_path())
            return inner(request, *args, **kwargs)

        return functools.update_wrapper(gate, inner)

    def login(self, request: HttpRequest, extra_context=None):
        step = second_factor_step(request)
        if request.method == "GET" and step is not None:
            return _redirect_to(step, _next_url(request))
        return super().login(request, extra_context)

    def get_urls(self):
        def signed_in(view):
            """For the steps of the second factor: signed in with the password is enough."""

            def wrapper(request: HttpRequest, *args, **kwargs):
                if not (request.user.is_active and request.user.is_staff):
                    login = resolve_url("admin:login")
                    return HttpResponseRedirect(
                        f"{login}?{urlencode({'next': request.get_full_path()})}"
                    )
                return view(self, request, *args, **kwargs)

            return never_cache(csrf_protect(wrapper))

        return [
            path("two-factor/", signed_in(two_factor_verify), name="two-factor-verify"),
            path("two-factor/setup/", signed_in(two_factor_setup), name="two-factor-setup"),
            path(
                "two-factor/recovery-codes/",
                self.admin_view(functools.partial(recovery_codes, self)),
                name="two-factor-recovery-codes",
            ),
            *super().get_urls(),
        ]

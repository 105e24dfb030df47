"""banq's settings, read once into a frozen object: the one place that knows their defaults.

``banq_settings()`` returns the ``BanqSettings`` for the current Django settings (cached; the
cache is dropped when a test changes a setting). Every other module of the banq app reads banq's
configuration from it, never from ``django.conf.settings`` directly. ``storefront/settings.py``
remains the only reader of the environment.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from banq.exceptions import BanqConfigError

ENVIRONMENTS = ("emulator", "sandbox", "production")
TOKEN_FIELD_STYLES = ("username", "client_username")
# What the Open API calls need; the account space and webhook token are needed by some commands
# and by the webhook URL, and are required outside the emulator by the system check.
API_CREDENTIALS = (
    "BANQ_CLIENT_ID",
    "BANQ_USERNAME",
    "BANQ_PASSWORD",
    "BANQ_MERCHANT_GUID",
)
REQUIRED_CREDENTIALS = (*API_CREDENTIALS, "BANQ_ACCOUNT_SPACE_ID", "BANQ_WEBHOOK_TOKEN")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_duration(value: object, *, name: str = "duration") -> timedelta:
    """``10s``, ``15m``, ``2h``, ``1d`` or plain seconds. Raises ``BanqConfigError`` naming
    ``name`` for anything else."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise BanqConfigError(f"{name}: {value!r} is not a duration like 30s, 15m, 2h or 1d.")
    return timedelta(seconds=float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()])


@dataclass(frozen=True)
class BanqSettings:
    environment: str
    token_url: str
    api_url: str
    widget_url: str
    client_id: str = field(repr=False)
    username: str = field(repr=False)
    password: str = field(repr=False)
    merchant_guid: str
    account_space_id: str
    company_id: str
    webhook_token: str = field(repr=False)
    token_field_style: str
    audience: str
    user_client_id: str
    user_audience: str
    frequencies: tuple[str, ...]
    connect_timeout: float
    read_timeout: float
    retries: int
    retry_backoff: float
    link_rate_limit: int
    link_rate_limit_ip: int
    link_rate_window: int
    request_budget: float
    recheck_min_interval: float
    link_fresh_seconds: float
    sweep_schedule: tuple[timedelta, ...]
    sweep_every: timedelta
    sweep_horizon: timedelta
    sweep_max_calls_per_minute: int
    installment_grace: timedelta
    storefront_url: str
    store_name: str

    @property
    def emulated(self) -> bool:
        return self.environment == "emulator"

    def value_of(self, setting: str) -> str:
        """The value of a ``BANQ_...`` credential by its setting name."""
        return str(getattr(self, setting.removeprefix("BANQ_").lower()) or "")

    def missing(self, names: tuple[str, ...] = REQUIRED_CREDENTIALS) -> list[str]:
        """The setting names among ``names`` that are blank."""
        return [name for name in names if not self.value_of(name).strip()]

    def require(self, *names: str) -> None:
        """Raise ``BanqConfigError`` naming the first blank setting among ``names``."""
        for name in names:
            if not self.value_of(name).strip():
                raise BanqConfigError(f"{name} is not set.")

    @property
    def lookup_window(self) -> float:
        """Seconds one look-up of a payment can take at most (every try with both timeouts, plus a
        margin): a look-up claimed longer ago belongs to a process that died."""
        return (self.connect_timeout + self.read_timeout) * (self.retries + 1) + 5

    @property
    def placeholder_window(self) -> timedelta:
        """How long a link call may take at most (both timeouts plus a margin)."""
        return timedelta(seconds=self.connect_timeout + self.read_timeout + 5)


def _text(name: str, default: str = "") -> str:
    value = getattr(settings, name, default)
    return default if value is None else str(value).strip()


def _load() -> BanqSettings:
    return BanqSettings(
        environment=_text("BANQ_ENVIRONMENT", "emulator").lower(),
        token_url=_text("BANQ_TOKEN_URL"),
        api_url=_text("BANQ_API_URL").rstrip("/"),
        widget_url=_text("BANQ_WIDGET_URL"),
        client_id=_text("BANQ_CLIENT_ID"),
        username=_text("BANQ_USERNAME"),
        password=str(getattr(settings, "BANQ_PASSWORD", "") or ""),
        merchant_guid=_text("BANQ_MERCHANT_GUID"),
        account_space_id=_text("BANQ_ACCOUNT_SPACE_ID"),
        company_id=_text("BANQ_COMPANY_ID"),
        webhook_token=_text("BANQ_WEBHOOK_TOKEN"),
        token_field_style=_text("BANQ_TOKEN_FIELD_STYLE", "username"),
        audience=_text("BANQ_AUDIENCE", "https://banq.com/open/api/"),
        user_client_id=_text("BANQ_USER_CLIENT_ID"),
        user_audience=_text("BANQ_USER_AUDIENCE", "https://banq.com/api"),
        frequencies=tuple(getattr(settings, "BANQ_FREQUENCIES", None) or ("once",)),
        connect_timeout=float(getattr(settings, "BANQ_CONNECT_TIMEOUT", 5.0)),
        read_timeout=float(getattr(settings, "BANQ_READ_TIMEOUT", 20.0)),
        retries=max(0, int(getattr(settings, "BANQ_RETRIES", 2))),
        retry_backoff=float(getattr(settings, "BANQ_RETRY_BACKOFF", 0.5)),
        link_rate_limit=int(getattr(settings, "BANQ_LINK_RATE_LIMIT", 20)),
        link_rate_limit_ip=int(getattr(settings, "BANQ_LINK_RATE_LIMIT_IP", 300)),
        link_rate_window=int(getattr(settings, "BANQ_LINK_RATE_WINDOW", 60)),
        request_budget=float(getattr(settings, "BANQ_REQUEST_BUDGET", 10.0)),
        recheck_min_interval=float(getattr(settings, "BANQ_RECHECK_MIN_INTERVAL", 3.0)),
        link_fresh_seconds=float(getattr(settings, "BANQ_LINK_FRESH_SECONDS", 1.0)),
        sweep_schedule=tuple(
            parse_duration(v, name="BANQ_SWEEP_SCHEDULE")
            for v in getattr(settings, "BANQ_SWEEP_SCHEDULE", ("10s", "30s", "1m", "2m", "5m"))
        ),
        sweep_every=parse_duration(
            getattr(settings, "BANQ_SWEEP_EVERY", "15m"), name="BANQ_SWEEP_EVERY"
        ),
        sweep_horizon=parse_duration(
            getattr(settings, "BANQ_SWEEP_HORIZON", "24h"), name="BANQ_SWEEP_HORIZON"
        ),
        sweep_max_calls_per_minute=int(getattr(settings, "BANQ_SWEEP_MAX_CALLS_PER_MINUTE", 60)),
        installment_grace=parse_duration(
            getattr(settings, "BANQ_INSTALLMENT_GRACE", "1d"), name="BANQ_INSTALLMENT_GRACE"
        ),
        storefront_url=_text("STOREFRONT_URL", "http://127.0.0.1:8000").rstrip("/"),
        store_name=_text("STORE_NAME"),
    )


@functools.cache
def banq_settings() -> BanqSettings:
    """banq's configuration. Raises ``BanqConfigError`` for an unreadable duration setting."""
    return _load()


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    banq_settings.cache_clear()

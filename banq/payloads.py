"""The one module that knows the shapes of banq's answers and webhook bodies.

banq's API reference is not public (docs/banq-api.md), so parsing is tolerant where the known
sources allow several shapes (a bare object or one under ``data``; ``id``/``guid``/``paymentGuid``;
the link at ``data.url``/``url``/``link``/``data.link`` or a ``Location`` header) and strict about
money: amounts are ``Decimal`` read from the JSON text (never through ``float``), with at most two
decimals. A merchant who gets banq's real reference adjusts this module and its tests; nothing
else in the project reads banq's dicts.

Every parse function raises ``BanqPayloadError`` when a required field is missing or unusable; the
message names the keys that were present, never their values.

What banq sends is made storable on every database as it is read (``loads``, ``jsonable``): a NUL
character or a lone surrogate, which PostgreSQL's text and JSON types refuse, becomes U+FFFD; a
``NaN`` or ``Infinity`` (not JSON, but Python's decoder takes it) stays a string; nesting deeper
than ``MAX_STORED_DEPTH`` is not kept. The payment itself is still read, verified and applied.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from banq.exceptions import BanqPayloadError

CENT = Decimal("0.01")
DEFAULT_TOKEN_LIFETIME = timedelta(hours=24)  # the lifetime of banq's sample token
# Final at banq and not paid: the link can't be paid any more.
FAILED_STATUSES = frozenset(
    {"failed", "declined", "rejected", "cancelled", "canceled", "expired", "error"}
)
_MAX_KEYS_NAMED = 20
# Characters no PostgreSQL text or jsonb value can hold: NUL, and lone UTF-16 surrogates (which
# can't even be encoded as UTF-8). A surrogate pair in the JSON is decoded to one character.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"
# banq's payloads are a few levels deep; anything deeper is not kept (a stored copy must not be
# able to blow the stack of whoever reads it later, such as the admin).
MAX_STORED_DEPTH = 32
TOO_DEEP = f"(nested deeper than {MAX_STORED_DEPTH} levels: not kept)"


# --- typed results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)  # never in a repr, a log line or a traceback
    expires_at: datetime

    def is_fresh(
        self, *, margin: timedelta = timedelta(minutes=3), now: datetime | None = None
    ) -> bool:
        return (now or datetime.now(UTC)) + margin < self.expires_at


@dataclass(frozen=True)
class PaymentLink:
    url: str
    payment_id: str | None
    raw: Any = field(default=None, repr=False, compare=False)


class _HasStatus:
    """``is_completed``/``is_failed`` from a lower-cased banq ``status``."""

    status: str

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    @property
    def is_failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class RemoteInstallment(_HasStatus):
    """One charge of a recurring payment: an item of the payment's ``transactions``, or a
    transaction fetched on its own. ``number`` is the installment (0 for the payment itself), None
    when banq gave none; ``external_order_code`` is None when the item doesn't repeat it (the
    payment's then applies)."""

    guid: str
    status: str
    funds: Decimal | None
    fail_reason: str | None
    number: int | None
    scheduled_date: date | None
    completed_at: datetime | None
    external_order_code: str | None = None
    payment_guid: str | None = None
    currency: str | None = None  # when banq named one (its amount object, or ``currency``)


@dataclass(frozen=True)
class RemotePayment(_HasStatus):
    id: str
    status: str
    funds: Decimal | None
    external_order_code: str | None
    destination_guid: str | None
    fail_reason: str | None
    frequency: str | None
    start_date: date | None
    end_date: date | None
    url: str | None
    created_at: datetime | None
    completed_at: datetime | None
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    # Recurring payments: their charges, oldest first (empty: banq said nothing about them), and
    # when banq will charge next (None: not said, or the schedule has ended).
    installments: tuple[RemoteInstallment, ...] = ()
    next_installment_date: date | None = None
    currency: str | None = None  # when banq named one (its amount object, or ``currency``)

    @property
    def is_recurring(self) -> bool:
        return (self.frequency or "once").lower() != "once"


@dataclass(frozen=True)
class RemoteTransaction(_HasStatus):
    guid: str
    payment_guid: str | None
    external_order_code: str | None
    status: str
    funds: Decimal | None
    fail_reason: str | None
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    # A charge of a recurring payment: which installment, when it was due and charged (None: no
    # installment data, as for a one-time payment's transaction).
    installment: int | None = None
    scheduled_date: date | None = None
    completed_at: datetime | None = None
    currency: str | None = None  # when banq named one (its amount object, or ``currency``)

    def as_installment(self) -> RemoteInstallment | None:
        """This transaction as an installment, or None without installment data."""
        if self.installment is None:
            return None
        return RemoteInstallment(
            guid=self.guid,
            status=self.status,
            funds=self.funds,
            fail_reason=self.fail_reason,
            number=self.installment,
            scheduled_date=self.scheduled_date,
            completed_at=self.completed_at,
            external_order_code=self.external_order_code,
            payment_guid=self.payment_guid,
            currency=self.currency,
        )


@dataclass(frozen=True)
class AccountSpace:
    id: str
    name: str
    platform_id: str | None


@dataclass(frozen=True)
class BanqAccount:
    banq_guid: str
    name: str
    account_space_id: str | None


@dataclass(frozen=True)
class UserProfile:
    email: str
    account_spaces: list[AccountSpace]
    banq_accounts: list[BanqAccount]


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    enabled: bool
    retry_count: int
    types: tuple[str, ...]
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class WebhookNotification:
    action: str
    resource_type: str
    resource_id: str
    event_id: str | None
    raw: dict = field(default_factory=dict, repr=False, compare=False)


# --- JSON in and out -------------------------------------------------------------------------


def loads(text: str | bytes) -> Any:
    """Decode banq's JSON with every non-integer number as ``Decimal`` (never a float)."""
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BanqPayloadError("banq's answer is not UTF-8 text.") from exc
    try:
        # NaN and Infinity stay text: they are no amount, and no database stores them as numbers.
        data = json.loads(text, parse_float=Decimal, parse_constant=str)
    except RecursionError as exc:
        raise BanqPayloadError("banq's answer is nested too deeply.") from exc
    except ValueError as exc:
        raise BanqPayloadError("banq's answer is not valid JSON.") from exc
    return _storable_tree(data, 0)


def storable_text(text: str) -> str:
    """``text`` with what PostgreSQL's text and JSON types refuse (NUL, lone surrogates) replaced
    by U+FFFD. Everything else is kept as it is."""
    return _UNSTORABLE.sub(REPLACEMENT_CHARACTER, text)


def _storable_tree(value: Any, depth: int) -> Any:
    """Decoded JSON with every string (keys too) made storable, down to ``MAX_STORED_DEPTH``
    (deeper parts are left for ``jsonable`` to drop)."""
    if isinstance(value, str):
        return storable_text(value)
    if depth >= MAX_STORED_DEPTH:
        return value
    if isinstance(value, dict):
        return {storable_text(k): _storable_tree(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable_tree(v, depth + 1) for v in value]
    return value


def funds_to_json(amount: Decimal) -> str:
    """The JSON number text for ``amount`` with exactly two decimals: 19.99 -> ``19.99``.

    Refuses floats, non-finite and negative amounts, and amounts with more than two decimals
    (rounding money silently is a bug in the caller).
    """
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError("funds must be a Decimal (or an int), never a float")
    value = Decimal(amount)
    if not value.is_finite() or value < 0:
        raise ValueError("funds must be a finite, non-negative amount")
    quantized = value.quantize(CENT)
    if quantized != value:
        raise ValueError("funds must have at most two decimals")
    return format(quantized, "f")


def dumps(body: Mapping[str, Any]) -> str:
    """Encode a request body; ``Decimal`` values become JSON numbers with exactly two decimals.

    ``json`` cannot emit a number from a Decimal without going through float, so each Decimal is
    replaced by a unique placeholder string that is then swapped for its exact number text.
    """
    marks: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, Decimal):
            mark = f"__banq_decimal_{uuid.uuid4().hex}__"
            marks[f'"{mark}"'] = funds_to_json(value)
            return mark
        if isinstance(value, Mapping):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [swap(v) for v in value]
        if isinstance(value, date | datetime):
            return value.isoformat()
        if isinstance(value, float):
            raise TypeError("floats are not allowed in banq request bodies")
        return value

    text = json.dumps(swap(body), separators=(",", ":"))
    for mark, number in marks.items():
        text = text.replace(mark, number)
    return text


def jsonable(raw: Any, _depth: int = 0) -> Any:
    """A copy of a parsed payload that a ``JSONField`` can store on any database: Decimals become
    exact strings, non-finite floats strings, text loses what PostgreSQL refuses
    (``storable_text``), and nesting deeper than ``MAX_STORED_DEPTH`` becomes ``TOO_DEEP``."""
    if isinstance(raw, str):
        return storable_text(raw)
    if isinstance(raw, Decimal):
        return format(raw, "f")
    if isinstance(raw, float) and not math.isfinite(raw):
        return str(raw)
    if isinstance(raw, Mapping | list | tuple) and _depth >= MAX_STORED_DEPTH:
        return TOO_DEEP
    if isinstance(raw, Mapping):
        return {storable_text(str(k)): jsonable(v, _depth + 1) for k, v in raw.items()}
    if isinstance(raw, list | tuple):
        return [jsonable(v, _depth + 1) for v in raw]
    return raw


# --- helpers ---------------------------------------------------------------------------------


def _keys(data: Any) -> str:
    if not isinstance(data, Mapping):
        return f"not an object but {type(data).__name__}"
    names = sorted(str(k)[:40] for k in data)
    shown = ", ".join(names[:_MAX_KEYS_NAMED])
    if len(names) > _MAX_KEYS_NAMED:
        shown += f", ... ({len(names)} keys)"
    return f"keys present: {shown or 'none'}"


def _missing(what: str, wanted: str, data: Any) -> BanqPayloadError:
    return BanqPayloadError(f"banq {what}: no {wanted} in the answer ({_keys(data)}).")


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise BanqPayloadError(f"banq {what}: expected a JSON object ({_keys(data)}).")
    return data


def _unwrap(data: Any, what: str, markers: Iterable[str]) -> Mapping[str, Any]:
    """The object itself, or the object under ``data`` when the top level is only a wrapper."""
    obj = _object(data, what)
    inner = obj.get("data")
    if isinstance(inner, Mapping) and not any(m in obj for m in markers):
        return inner
    return obj


def _first(obj: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = obj.get(name)
        if value is not None and value != "":
            return value
    return None


def _ident(value: Any) -> str | None:
    """An id: a non-empty string or an integer (not a bool), as a string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return storable_text(value.strip())
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    text = storable_text(str(value).strip())
    return text or None


def _status(value: Any) -> str:
    text = _text(value)
    return text.lower() if text else ""


@dataclass(frozen=True)
class Money:
    """An amount banq sent, and its currency when banq named one (upper case; None: not said)."""

    amount: Decimal
    currency: str | None = None


def parse_currency(value: Any) -> str | None:
    """An ISO 4217 code, upper case, or None when absent. Raises ``BanqPayloadError`` for a value
    that is not three letters."""
    text = _text(value)
    if not text:
        return None
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise BanqPayloadError("banq currency: not a three-letter currency code.")
    return code


def parse_money(value: Any, *, what: str = "amount", currency: Any = None) -> Money | None:
    """``Money`` with two decimals from a JSON number or numeric string, or from an amount object
    (``{"value": 1.00, "currency": "USD"}``, whose currency is kept); None when absent.
    ``currency``: the currency banq gave beside the amount, if any (the object's own wins).

    Raises ``BanqPayloadError`` for anything else, for more than two decimals, for negatives and
    for a currency that is not a three-letter code. A Python float (a caller that decoded without
    ``parse_float=Decimal``) is read from its shortest repr, which is the JSON text it came from.
    """
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):  # {"value": 1.00, "currency": "USD"} style amounts
        currency = _first(value, "currency", "currencyCode") or currency
        value = _first(value, "value", "amount", "funds")
        if value is None:
            raise BanqPayloadError(f"banq {what}: the amount object has no value.")
    if isinstance(value, bool):
        raise BanqPayloadError(f"banq {what}: the amount is not a number.")
    try:
        if isinstance(value, float):
            amount = Decimal(repr(value))
        elif isinstance(value, Decimal | int):
            amount = Decimal(value)
        elif isinstance(value, str):
            amount = Decimal(value.strip())
        else:
            raise BanqPayloadError(f"banq {what}: the amount is not a number.")
    except InvalidOperation as exc:
        raise BanqPayloadError(f"banq {what}: the amount is not a number.") from exc
    if not amount.is_finite() or amount < 0:
        raise BanqPayloadError(f"banq {what}: the amount is not a valid amount.")
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise BanqPayloadError(f"banq {what}: the amount has more than two decimals.")
    return Money(quantized, parse_currency(currency))


def _amount(obj: Mapping[str, Any], *, what: str) -> tuple[Decimal | None, str | None]:
    """``(funds, currency)`` of a payment, transaction or installment object."""
    money = parse_money(_first(obj, "funds", "amount"), what=what, currency=obj.get("currency"))
    return (money.amount, money.currency) if money is not None else (None, None)


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = _text(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _fail_reason(obj: Mapping[str, Any]) -> str | None:
    value = _first(obj, "failReason", "fail_reason", "failureReason", "failedReason", "reason")
    if isinstance(value, Mapping):
        value = _first(value, "code", "name", "message", "description")
    text = _text(value)
    return text[:200] if text else None


# --- parse functions -------------------------------------------------------------------------


def _jwt_exp(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, decoded without verifying (only to know when to refresh)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return None
        return datetime.fromtimestamp(exp, UTC)
    except (ValueError, binascii.Error, UnicodeError, OverflowError, OSError):
        return None


def parse_token(data: Any, *, now: datetime | None = None) -> Token:
    """Token response: ``access_token`` required; lifetime from ``expires_in``, else the JWT's
    ``exp``, else 24 hours."""
    obj = _object(data, "token")
    access_token = obj.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        raise _missing("token", "access_token", obj)
    now = now or datetime.now(UTC)
    expires_in = obj.get("expires_in")
    expires_at: datetime | None = None
    if not isinstance(expires_in, bool) and expires_in is not None:
        try:
            seconds = int(Decimal(str(expires_in)))
        except (InvalidOperation, ValueError):
            seconds = 0
        if seconds > 0:
            expires_at = now + timedelta(seconds=seconds)
    if expires_at is None:
        expires_at = _jwt_exp(access_token.strip())
    if expires_at is None:
        expires_at = now + DEFAULT_TOKEN_LIFETIME
    return Token(access_token=access_token.strip(), expires_at=expires_at)


def _http_url(value: Any) -> str | None:
    text = _text(value)
    if text and text.lower().startswith(("https://", "http://")) and len(text) <= 2000:
        return text
    return None


def parse_payment_link(data: Any, *, location: str | None = None) -> PaymentLink:
    """Paid-link answer: the URL at ``data.url``, ``url``, ``link``, ``data.link`` or in the
    ``Location`` header of a 201; the payment id from ``id``/``guid``/``paymentGuid`` (also under
    ``data``) when present."""
    if isinstance(data, str) and _http_url(data):  # a bare JSON string holding the link
        return PaymentLink(url=data.strip(), payment_id=None, raw=data)
    if data is None or data == "":
        data = {}
    obj = _object(data, "payment link")
    inner_value = obj.get("data")
    inner: Mapping[str, Any] = inner_value if isinstance(inner_value, Mapping) else {}
    url = None
    for candidate in (
        inner.get("url"),
        obj.get("url"),
        obj.get("link"),
        inner.get("link"),
        obj.get("paymentLink"),
        inner.get("paymentLink"),
        location,
    ):
        url = _http_url(candidate)
        if url:
            break
    if url is None:
        raise _missing("payment link", "link URL", obj)
    payment_id = None
    for source in (inner, obj):
        payment_id = _ident(_first(source, "id", "guid", "paymentGuid", "paymentId"))
        if payment_id:
            break
    return PaymentLink(url=url, payment_id=payment_id, raw=data)


def _count(value: Any) -> int | None:
    """A non-negative integer (an installment number), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, Decimal) and value == value.to_integral_value() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    return None


_INSTALLMENT_NUMBER = ("installment", "installmentNumber", "installmentIndex")


def _installments(value: Any, payment_id: str) -> tuple[RemoteInstallment, ...]:
    """A recurring payment's charges from its ``transactions`` (or ``installments``) list,
    oldest first. Items without a guid are skipped; amounts are strict (``parse_money``). When no
    item carries its installment number, the list's order gives it (0 for the oldest)."""
    items = [item for item in _list(value) if _ident(_first(item, "guid", "id", "transactionGuid"))]
    numbered = any(_count(_first(item, *_INSTALLMENT_NUMBER)) is not None for item in items)
    found = []
    for index, item in enumerate(items):
        guid = _ident(_first(item, "guid", "id", "transactionGuid")) or ""
        number = _count(_first(item, *_INSTALLMENT_NUMBER)) if numbered else index
        funds, currency = _amount(item, what=f"payment {payment_id} transaction")
        found.append(
            RemoteInstallment(
                guid=guid,
                status=_status(item.get("status")),
                funds=funds,
                currency=currency,
                fail_reason=_fail_reason(item),
                number=number,
                scheduled_date=_date(_first(item, "scheduledDate", "dueDate", "scheduledAt")),
                completed_at=_datetime(_first(item, "completedAt", "completed", "createdAt")),
                external_order_code=_text(item.get("externalOrderCode")),
                payment_guid=_ident(item.get("paymentGuid")) or payment_id,
            )
        )
    return tuple(found)


def parse_payment(data: Any) -> RemotePayment:
    """A payment, bare or under ``data``. Status lower-cased (``""`` when absent)."""
    obj = _unwrap(data, "payment", ("id", "guid", "paymentGuid", "status"))
    payment_id = _ident(_first(obj, "id", "guid", "paymentGuid", "paymentId"))
    if payment_id is None:
        raise _missing("payment", "id", obj)
    destination = obj.get("destination")
    destination_guid = None
    if isinstance(destination, Mapping):
        banq = destination.get("banq")
        destination_guid = _ident(
            _first(destination, "banqGuid", "guid")
            or (_first(banq, "banqGuid", "guid") if isinstance(banq, Mapping) else None)
        )
    destination_guid = destination_guid or _ident(obj.get("destinationBanqGuid"))
    recurrence_value = obj.get("recurrence")
    recurrence: Mapping[str, Any] = (
        recurrence_value if isinstance(recurrence_value, Mapping) else {}
    )
    funds, currency = _amount(obj, what=f"payment {payment_id}")
    return RemotePayment(
        id=payment_id,
        status=_status(obj.get("status")),
        funds=funds,
        currency=currency,
        external_order_code=_text(obj.get("externalOrderCode")),
        destination_guid=destination_guid,
        fail_reason=_fail_reason(obj),
        frequency=_text(_first(recurrence, "frequency") or obj.get("frequency")),
        start_date=_date(_first(recurrence, "startDate") or obj.get("startDate")),
        end_date=_date(_first(recurrence, "endDate") or obj.get("endDate")),
        url=_http_url(_first(obj, "url", "link", "paymentLink")),
        created_at=_datetime(_first(obj, "createdAt", "created", "createdDate")),
        completed_at=_datetime(_first(obj, "completedAt", "completed", "completedDate")),
        raw=dict(obj),
        installments=_installments(_first(obj, "transactions", "installments"), payment_id),
        next_installment_date=_date(_first(obj, "nextInstallmentDate", "nextPaymentDate")),
    )


def parse_transaction(data: Any) -> RemoteTransaction:
    """A transaction, bare or under ``data``; ``guid`` (or ``id``) required."""
    obj = _unwrap(data, "transaction", ("guid", "paymentGuid", "status"))
    guid = _ident(_first(obj, "guid", "transactionGuid", "id"))
    if guid is None:
        raise _missing("transaction", "guid", obj)
    payment = obj.get("payment")
    payment_guid = _ident(_first(obj, "paymentGuid", "paymentId")) or (
        _ident(_first(payment, "guid", "id")) if isinstance(payment, Mapping) else None
    )
    funds, currency = _amount(obj, what=f"transaction {guid}")
    return RemoteTransaction(
        guid=guid,
        payment_guid=payment_guid,
        external_order_code=_text(obj.get("externalOrderCode")),
        status=_status(obj.get("status")),
        funds=funds,
        currency=currency,
        fail_reason=_fail_reason(obj),
        raw=dict(obj),
        installment=_count(_first(obj, *_INSTALLMENT_NUMBER)),
        scheduled_date=_date(_first(obj, "scheduledDate", "dueDate", "scheduledAt")),
        completed_at=_datetime(_first(obj, "completedAt", "completed")),
    )


def _list(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):  # {"data": [...]} or {"items": [...]}
        value = _first(value, "data", "items", "results")
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _banq_account(item: Mapping[str, Any], space_id: str | None) -> BanqAccount | None:
    guid = _ident(_first(item, "banqGuid", "guid", "id"))
    if guid is None:
        return None
    return BanqAccount(
        banq_guid=guid,
        name=_text(_first(item, "banqName", "name", "displayName")) or "",
        account_space_id=_ident(_first(item, "accountSpaceId", "accountSpaceGuid")) or space_id,
    )


def parse_user_profile(data: Any) -> UserProfile:
    """users/me with ``accountSpaces`` and ``banqAccounts`` (top level or nested in a space)."""
    obj = _unwrap(data, "user profile", ("email", "accountSpaces", "banqAccounts"))
    spaces: list[AccountSpace] = []
    accounts: list[BanqAccount] = []
    seen: set[str] = set()
    for item in _list(obj.get("accountSpaces")):
        space_id = _ident(_first(item, "id", "guid", "accountSpaceId"))
        if space_id is None:
            continue
        spaces.append(
            AccountSpace(
                id=space_id,
                name=_text(_first(item, "name", "displayName")) or "",
                platform_id=_ident(item.get("platformId")),
            )
        )
        for nested in _list(item.get("banqAccounts") or item.get("banqs")):
            account = _banq_account(nested, space_id)
            if account and account.banq_guid not in seen:
                seen.add(account.banq_guid)
                accounts.append(account)
    for item in _list(obj.get("banqAccounts") or obj.get("banqs")):
        account = _banq_account(item, None)
        if account and account.banq_guid not in seen:
            seen.add(account.banq_guid)
            accounts.append(account)
    if not spaces and not accounts and "email" not in obj:
        raise _missing("user profile", "email, accountSpaces or banqAccounts", obj)
    return UserProfile(
        email=_text(obj.get("email")) or "", account_spaces=spaces, banq_accounts=accounts
    )


def parse_webhook_config(data: Any) -> WebhookConfig:
    """A webhook-config object ``{url, enabled, retryCount, webHookTypes}``, bare or under data."""
    obj = _unwrap(data, "webhook config", ("url", "enabled", "webHookTypes"))
    url = _text(obj.get("url"))
    if not url:
        raise _missing("webhook config", "url", obj)
    types_value = _first(obj, "webHookTypes", "webhookTypes", "types")
    types = tuple(
        str(t).lower() for t in (types_value if isinstance(types_value, list) else []) if t
    )
    retry = obj.get("retryCount")
    try:
        retry_count = 0 if isinstance(retry, bool) or retry is None else int(retry)
    except (TypeError, ValueError):
        retry_count = 0
    enabled = obj.get("enabled")
    if isinstance(enabled, str):
        enabled = enabled.strip().lower() in ("true", "1", "yes")
    return WebhookConfig(
        url=url, enabled=bool(enabled), retry_count=retry_count, types=types, raw=data
    )


def parse_webhook_notification(data: Mapping[str, Any]) -> WebhookNotification:
    """A webhook body already decoded from JSON: ``action``, ``resourceType``, ``resourceId``
    required (strings, or numbers for the id). Type and action are lower-cased (the guide writes
    ``Payment``, the config ``payment``)."""
    obj = _unwrap(data, "webhook", ("action", "resourceType", "resourceId"))
    action = obj.get("action")
    resource_type = obj.get("resourceType")
    if not isinstance(action, str) or not action.strip():
        raise _missing("webhook", "action", obj)
    if not isinstance(resource_type, str) or not resource_type.strip():
        raise _missing("webhook", "resourceType", obj)
    resource_id = _ident(obj.get("resourceId"))
    if resource_id is None:
        raise _missing("webhook", "resourceId", obj)
    return WebhookNotification(
        action=action.strip().lower(),
        resource_type=resource_type.strip().lower(),
        resource_id=resource_id,
        event_id=_ident(_first(obj, "eventId", "id", "eventGuid")),
        raw=dict(data),
    )

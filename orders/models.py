"""Commerce models: products, a cart per browser session, orders with snapshotted lines.

Money is ``DecimalField(max_digits=12, decimal_places=2)`` next to an ISO 4217 ``currency``.
Statuses change only through ``orders.services`` (``order_set_status`` / ``order_mark_paid``).
"""

from __future__ import annotations

import posixpath
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django_countries.fields import CountryField

from orders.recurring import ONCE, Plan

PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"
REFUND_STATES = {PARTIALLY_REFUNDED: "Partially refunded", REFUNDED: "Refunded"}


def product_photo_path(instance: Product, filename: str) -> str:
    """``products/<random>/original.<ext>``: a fresh directory per upload (never overwriting a
    photo a page may still show); the extension is the checked content's
    (``orders.photos.photo_check``), which the admin's form gives the file."""
    extension = posixpath.splitext(filename)[1].lower() or ".jpg"
    return f"products/{uuid.uuid4().hex}/original{extension}"


def MoneyField(verbose_name: str, **kwargs: Any) -> models.DecimalField:  # noqa: N802 - a field
    """``DecimalField(max_digits=12, decimal_places=2)``: the one shape of money
    (docs/development.md, "Money")."""
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, **kwargs)


class Product(models.Model):
    """Something for sale: one-time (``frequency`` once) or a recurring plan (a frequency, plus
    an optional number of payments or a last date)."""

    class Frequency(models.TextChoices):
        ONCE = "once", "One-time purchase"
        WEEKLY = "weekly", "Every week"
        MONTHLY = "monthly", "Every month"
        YEARLY = "yearly", "Every year"

    name = models.CharField("name", max_length=200)
    slug = models.SlugField("slug", max_length=200, unique=True)
    description = models.TextField("description", blank=True)
    price = MoneyField("price", validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField("currency", max_length=3, default="USD")
    image = models.CharField(
        "illustration",
        max_length=200,
        blank=True,
        help_text="Path of an illustration under static/, e.g. orders/products/mug.svg: shown "
        "when the product has no photo.",
    )
    photo = models.ImageField(
        "photo",
        upload_to=product_photo_path,
        max_length=200,
        blank=True,
        help_text="A JPEG, PNG, WebP or GIF, checked from its content. Sized copies are made "
        "when it is uploaded; pages show the one that fits the screen.",
    )
    photo_variants = models.JSONField(
        "photo sizes",
        default=list,
        blank=True,
        editable=False,
        help_text="The sized WebP copies of the photo: width, height and file name of each.",
    )
    is_active = models.BooleanField("active", default=True, db_index=True)
    requires_shipping = models.BooleanField(
        "ships",
        default=False,
        help_text="A physical good, sent by post: checkout asks for a shipping address and a "
        "shipping method. Digital goods and recurring plans don't ship.",
    )
    stock = models.PositiveIntegerField(
        "stock", null=True, blank=True, help_text="Leave empty for unlimited stock."
    )
    frequency = models.CharField(
        "sold",
        max_length=20,
        choices=Frequency.choices,
        default=Frequency.ONCE,
        blank=True,  # left empty: one-time (clean)
        help_text="One-time, or a recurring plan: the price is charged at checkout, then again "
        "every period (the payment provider must accept the frequency).",
    )
    periods = models.PositiveIntegerField(
        "number of payments",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Recurring plans only: how many payments in all, the first included. Leave "
        "empty for no limit (or to end on the date below).",
    )
    plan_end_date = models.DateField(
        "last payment by",
        null=True,
        blank=True,
        help_text="Recurring plans only: no payment is due after this date. Leave empty for no "
        "end date.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "product"
        verbose_name_plural = "products"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("orders:product-detail", kwargs={"slug": self.slug})

    @property
    def is_recurring(self) -> bool:
        return self.frequency != ONCE

    def plan(self, *, start: date) -> Plan | None:
        """The plan a purchase starting on ``start`` gets; None for a one-time product. Raises
        ``ValueError`` for a plan that can't be (an end date before ``start``)."""
        if not self.is_recurring:
            return None
        return Plan(
            frequency=self.frequency, start=start, periods=self.periods, end=self.plan_end_date
        )

    def clean(self) -> None:
        super().clean()
        if not self.frequency:
            self.frequency = self.Frequency.ONCE
        if not self.is_recurring and (self.periods or self.plan_end_date):
            raise ValidationError(
                "A one-time product has no number of payments or last date: choose a frequency, "
                "or clear them."
            )
        if self.is_recurring and self.requires_shipping:
            raise ValidationError(
                {
                    "requires_shipping": "A recurring plan doesn't ship: sell the goods as a "
                    "one-time product."
                }
            )


class ShippingMethod(models.Model):
    """A way to send an order, managed in the admin: its price, where it goes, and the goods total
    from which it is free. Checkout offers the active ones in the store's currency; the order keeps
    a snapshot of the name and price it was placed with."""

    name = models.CharField("name", max_length=100)
    price = MoneyField("price", validators=[MinValueValidator(Decimal("0.00"))])
    currency = models.CharField("currency", max_length=3, default="USD")
    countries = CountryField(  # type: ignore[call-overload]
        "countries",
        multiple=True,
        blank=True,
        help_text="Where this method delivers. Leave empty for every country.",
    )
    free_over = MoneyField(
        "free over",
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text="Free when the goods come to at least this amount. Leave empty to always "
        "charge the price.",
    )
    is_active = models.BooleanField("active", default=True, db_index=True)
    position = models.PositiveIntegerField(
        "position", default=0, help_text="Checkout lists the methods by position, then price."
    )

    class Meta:
        ordering = ["position", "price", "pk"]
        verbose_name = "shipping method"
        verbose_name_plural = "shipping methods"

    def __str__(self) -> str:
        return self.name

    def delivers_to(self, country: str) -> bool:
        return not self.countries or country in {str(c) for c in self.countries}

    def price_for(self, subtotal: Decimal) -> Decimal:
        """What this method costs for goods worth ``subtotal``."""
        if self.free_over is not None and subtotal >= self.free_over:
            return Decimal("0.00")
        return self.price


class Cart(models.Model):
    """A shopper's cart, keyed by the browser session so it survives a server restart."""

    session_key = models.CharField("session key", max_length=40, unique=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "cart"
        verbose_name_plural = "carts"

    def __str__(self) -> str:
        return f"Cart {self.pk}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField("quantity", default=1)
    added_at = models.DateTimeField("added", auto_now_add=True)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cartitem_unique_product"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


# The statuses an order can still be paid, expired or cancelled from: orders.services' PAYABLE
# (a test keeps them equal), spelled out for the partial index below.
ORDER_OPEN_STATUSES = ("pending", "awaiting_payment", "failed")


def address_lines(
    name: str, line1: str, line2: str, postal_code: str, city: str, region: str, country: str
) -> list[str]:
    """An address's non-empty lines, the postal code and the city on one (``country``: its name,
    not its code). ``Order.shipping_address_lines`` and the CSV export (from plain values) both
    write an address with it."""
    place = " ".join(p for p in (postal_code, city) if p)
    return [line for line in (name, line1, line2, place, region, country) if line]


def order_refund_state(
    *,
    order_id: int,
    refunded_total: Decimal,
    total: Decimal,
    paid_at: datetime | None,
    recurring: bool,
) -> str:
    """``Order.refund_state`` from the order's plain values (the CSV export reads no model
    instances): one query, only for a plan with a refund."""
    if not refunded_total:
        return ""
    received = total if paid_at is not None else Decimal("0.00")
    if recurring:
        received += Installment.objects.filter(
            Installment.refundable_q(), subscription__order_id=order_id
        ).aggregate(total=models.Sum("amount"))["total"] or Decimal("0.00")
    return REFUNDED if refunded_total >= received else PARTIALLY_REFUNDED


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    class Fulfilment(models.TextChoices):
        NOT_REQUIRED = "not_required", "Nothing to ship"
        UNFULFILLED = "unfulfilled", "Not shipped yet"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"

    number = models.CharField(
        "order number",
        max_length=32,
        unique=True,
        editable=False,
        help_text="Shown to the shopper and sent to the payment provider as the order code.",
    )
    public_id = models.UUIDField("public id", default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("e-mail")
    name = models.CharField("name", max_length=200)
    currency = models.CharField("currency", max_length=3, default="USD")
    subtotal = MoneyField("subtotal")
    total = MoneyField("total")
    # Indexed with the creation time (Meta.indexes): the admin's status filter, newest first.
    status = models.CharField(
        "status", max_length=20, choices=Status.choices, default=Status.PENDING
    )
    session_key = models.CharField(
        "owner session", max_length=40, blank=True, editable=False, db_index=True
    )
    payment_reference = models.CharField(
        "payment reference",
        max_length=64,
        blank=True,
        db_index=True,
        help_text="The payment provider's id of the payment that paid this order.",
    )
    payment_claimed_at = models.DateTimeField(
        "shopper reported payment",
        null=True,
        blank=True,
        help_text="When the shopper's page first reported a payment that the store then asked "
        "the payment provider to confirm.",
    )
    payment_error = models.CharField(
        "payment problem",
        max_length=300,
        blank=True,
        help_text="Why the last payment failed, in words the shopper can read.",
    )
    provider_unreachable_since = models.DateTimeField(
        "payment provider unreachable since",
        null=True,
        blank=True,
        help_text="Set while the payment provider can't be asked about this order (down, "
        "erroring or too slow); cleared by its next answer. Nothing is cancelled or expired "
        "meanwhile.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("updated", auto_now=True)
    status_changed_at = models.DateTimeField("status changed", null=True, blank=True)
    paid_at = models.DateTimeField("paid at", null=True, blank=True)
    recurring = models.BooleanField(
        "recurring plan",
        default=False,
        editable=False,
        help_text="The order holds a recurring plan (its subscription); its payment is the "
        "plan's first installment.",
    )
    # Shipping: a snapshot taken at checkout. Later edits of the method (or of anything else)
    # never change a placed order.
    requires_shipping = models.BooleanField("ships", default=False, editable=False)
    shipping_name = models.CharField("ship to", max_length=200, blank=True)
    shipping_line1 = models.CharField("address line 1", max_length=200, blank=True)
    shipping_line2 = models.CharField("address line 2", max_length=200, blank=True)
    shipping_city = models.CharField("city", max_length=100, blank=True)
    shipping_postal_code = models.CharField("postal code", max_length=20, blank=True)
    shipping_region = models.CharField("region", max_length=100, blank=True)
    shipping_country = CountryField("country", blank=True)  # type: ignore[call-overload]
    shipping_phone = models.CharField("phone", max_length=32, blank=True)
    shipping_method = models.ForeignKey(
        ShippingMethod,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="shipping method",
    )
    shipping_method_name = models.CharField("shipping method name", max_length=100, blank=True)
    shipping_price = MoneyField("shipping", default=Decimal("0.00"), help_text="Part of the total.")
    # Fulfilment, apart from payment: unfulfilled, then shipped, then (optionally) delivered.
    fulfilment_status = models.CharField(
        "fulfilment",
        max_length=20,
        choices=Fulfilment.choices,
        default=Fulfilment.NOT_REQUIRED,
        db_index=True,
    )
    carrier = models.CharField("carrier", max_length=100, blank=True)
    tracking_number = models.CharField("tracking number", max_length=100, blank=True)
    tracking_url = models.URLField("tracking URL", max_length=500, blank=True)
    shipped_at = models.DateTimeField("shipped at", null=True, blank=True)
    delivered_at = models.DateTimeField("delivered at", null=True, blank=True)

    refunded_total = MoneyField(
        "refunded",
        default=Decimal("0.00"),
        editable=False,
        help_text="The sum of the refunds recorded for this order (its payment and its plan's "
        "installments). Written only by orders.services.refunds, with the order's row locked.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "order"
        verbose_name_plural = "orders"
        # At a year of orders (docs/benchmarks.md, "At a year of orders"). PostgreSQL also has
        # trigram indexes for the admin's search (migration 0007, not expressible here).
        indexes = [
            # The admin's status filter in the list's order (newest first).
            models.Index(fields=["status", "created_at", "id"], name="order_status_created"),
            # Open orders only: the expiry's and "needs attention"'s work is found by reading
            # these few entries, whatever the number of closed orders.
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(status__in=ORDER_OPEN_STATUSES, paid_at__isnull=True),
                name="order_open_created",
            ),
            # Paid today / this week (the admin index, the "paid" filter), and the 30-day chart:
            # with the amount and currency in the index, PostgreSQL sums a day's orders from the
            # index alone (an index-only scan).
            models.Index(
                fields=["paid_at"],
                condition=models.Q(paid_at__isnull=False),
                include=["total", "currency"],
                name="order_paid_at",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:order-detail", kwargs={"public_id": self.public_id})

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None

    @property
    def refund_due(self) -> bool:
        """Money arrived for an order that was cancelled, and the recorded refunds don't cover it
        yet: the shopper gets it back."""
        return (
            self.paid_at is not None
            and self.status == self.Status.CANCELLED
            and self.refunded_total < self.total
        )

    @property
    def refund_state(self) -> str:
        """``""`` (nothing refunded), ``partially_refunded`` or ``refunded``: the refunds recorded
        (``refunded_total``) against the money received, the order's payment and, for a plan,
        its later installments (one query, only for a plan with a refund)."""
        return order_refund_state(
            order_id=self.pk,
            refunded_total=self.refunded_total,
            total=self.total,
            paid_at=self.paid_at,
            recurring=self.recurring,
        )

    @property
    def refund_state_display(self) -> str:
        return REFUND_STATES.get(self.refund_state, "")

    @property
    def shipping_address_lines(self) -> list[str]:
        """The address the order ships to, one line per entry (empty when it doesn't ship)."""
        if not self.requires_shipping:
            return []
        return address_lines(
            self.shipping_name,
            self.shipping_line1,
            self.shipping_line2,
            self.shipping_postal_code,
            self.shipping_city,
            self.shipping_region,
            self.shipping_country.name if self.shipping_country else "",
        )

    @property
    def shipping_address_text(self) -> str:
        """The address on one line, comma-separated (for a list or a CSV cell)."""
        return ", ".join(self.shipping_address_lines)


class OrderItem(models.Model):
    """A line of an order: name and price are snapshots, unaffected by later product edits."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    product_name = models.CharField("product name", max_length=200)
    unit_price = MoneyField("unit price")
    quantity = models.PositiveIntegerField("quantity")
    line_total = MoneyField("line total")

    class Meta:
        ordering = ["pk"]
        verbose_name = "order line"
        verbose_name_plural = "order lines"

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_name}"


class AppendOnlyModel(models.Model):
    """Rows are written once and never changed or deleted (history)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} rows are append-only.")


class OrderEvent(AppendOnlyModel):
    """One line of an order's history. Written only by ``orders.services``; never changed."""

    class Kind(models.TextChoices):
        CREATED = "created", "Order placed"
        STATUS = "status", "Status changed"
        PAID = "paid", "Payment recorded"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        FLAG = "flag", "Flagged for the merchant"
        FLAG_RESOLVED = "flag_resolved", "Flag handled"
        RECHECK = "recheck", "Checked with the payment provider"
        CLAIM = "claim", "Shopper reported a payment"
        EMAIL = "email", "E-mail sent"
        EMAIL_FAILED = "email_failed", "E-mail not sent"
        INSTALLMENT = "installment", "Installment recorded"
        INSTALLMENT_FAILED = "installment_failed", "Installment failed"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        REFUND = "refund", "Refund recorded"
        PLAN = "plan", "Plan changed"
        NOTE = "note", "Note"

    class Source(models.TextChoices):
        CHECKOUT = "checkout", "Checkout"
        SHOPPER = "shopper", "Shopper"
        CONFIRM = "confirm", "Shopper's confirm"
        WEBHOOK = "webhook", "Webhook"
        SWEEP = "sweep", "Sweep"
        RECONCILE = "reconcile", "Reconcile"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Management command"
        EXPIRY = "expiry", "Expiry"
        PAGE = "page", "Order page"
        WORKER = "worker", "Worker"
        SYSTEM = "system", "System"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField("at", auto_now_add=True, db_index=True)
    kind = models.CharField("what", max_length=20, choices=Kind.choices)
    source = models.CharField("source", max_length=20, choices=Source.choices)
    actor = models.CharField(
        "actor", max_length=150, blank=True, help_text="The admin user, when a person acted."
    )
    from_status = models.CharField("from", max_length=20, blank=True)
    to_status = models.CharField("to", max_length=20, blank=True)
    message = models.TextField("message", blank=True)
    data = models.JSONField("details", default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = "order history entry"
        verbose_name_plural = "order history"

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} ({self.source})"


class OrderFlag(models.Model):
    """Something about an order a person must look at. Flags accumulate; none is ever dropped:
    the merchant marks one handled, which keeps it on record."""

    class Kind(models.TextChoices):
        REFUND_DUE = "refund_due", "Paid after cancellation: refund"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount mismatch"
        DESTINATION_MISMATCH = "destination_mismatch", "Paid to another account"
        ORDER_CODE_MISMATCH = "order_code_mismatch", "Order code mismatch"
        UNKNOWN_PAYMENT = "unknown_payment", "Payment the store did not create"
        DUPLICATE_PAYMENT = "duplicate_payment", "Paid twice"
        PAYMENT_CONTRADICTION = "payment_contradiction", "Contradicting payment status"
        EMAIL_FAILED = "email_failed", "E-mail could not be sent"
        NOTIFICATION_FAILED = (
            "notification_failed",
            "A payment notification could not be processed",
        )
        INSTALLMENT_FAILED = "installment_failed", "Installment failed"
        INSTALLMENT_MISSED = "installment_missed", "Installment missed"
        INSTALLMENT_UNEXPECTED = (
            "installment_unexpected",
            "Installment outside the plan: refund",
        )
        PLAN_STOP_NEEDED = (
            "plan_stop_needed",
            "Cancelled plan: stop it at the payment provider",
        )

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField("kind", max_length=32, choices=Kind.choices, db_index=True)
    note = models.TextField("note", blank=True)
    reference = models.CharField(
        "reference",
        max_length=128,
        blank=True,
        help_text="What the flag is about (a payment id), so the same thing is flagged once.",
    )
    created_at = models.DateTimeField("raised", auto_now_add=True)
    resolved_at = models.DateTimeField("handled", null=True, blank=True, db_index=True)
    resolved_by = models.CharField("handled by", max_length=150, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "order flag"
        verbose_name_plural = "order flags"
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind", "reference"], name="orderflag_unique_per_reference"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.note[:60]}"


class Subscription(models.Model):
    """The recurring plan an order holds: one per recurring order, created at checkout.

    The order's own payment is installment 0 (n counts from 0; shoppers read n + 1). Later
    installments never change the order's status: each is an ``Installment`` row, with a history
    line on the order. ``next_number`` / ``next_due_date`` say which installment is expected next
    (empty once the plan has ended); they only move forward. Written only by
    ``orders.services.subscriptions``, with the order's row locked.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the first payment"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    class Stop(models.TextChoices):
        """Whether the payment provider stopped charging a cancelled plan."""

        NONE = "", "Not cancelled"
        REQUESTED = "requested", "Asking the payment provider to stop it"
        STOPPED = "stopped", "Stopped by the payment provider"
        MANUAL = "manual", "To stop in the payment provider's dashboard"
        CONFIRMED = "confirmed", "Stopped in the provider's dashboard (merchant confirmed)"

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="subscription")
    product_name = models.CharField("product", max_length=200)
    frequency = models.CharField("frequency", max_length=20)
    start_date = models.DateField("first payment on")
    periods = models.PositiveIntegerField("number of payments", null=True, blank=True)
    end_date = models.DateField(
        "last payment by", null=True, blank=True, help_text="No payment is due after this date."
    )
    amount = MoneyField("amount per payment")
    currency = models.CharField("currency", max_length=3, default="USD")
    state = models.CharField(
        "state", max_length=20, choices=State.choices, default=State.PENDING, db_index=True
    )
    next_number = models.PositiveIntegerField(
        "next installment",
        null=True,
        blank=True,
        help_text="The installment expected next (0 is the first payment); empty once the plan "
        "has ended.",
    )
    next_due_date = models.DateField("next expected on", null=True, blank=True, db_index=True)
    provider_checked_at = models.DateTimeField(
        "provider asked",
        null=True,
        blank=True,
        editable=False,
        help_text="When the payment provider was last asked about the overdue installment.",
    )
    cancelled_at = models.DateTimeField("cancelled", null=True, blank=True)
    cancelled_by = models.CharField(
        "cancelled by",
        max_length=150,
        blank=True,
        help_text="The shopper, or the admin user who cancelled the plan.",
    )
    provider_stop = models.CharField(
        "stopped at the payment provider",
        max_length=20,
        choices=Stop.choices,
        default=Stop.NONE,
        blank=True,
        db_index=True,
    )
    provider_stopped_at = models.DateTimeField(
        "stopped at the payment provider on", null=True, blank=True
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "subscription"
        verbose_name_plural = "subscriptions"
        # The admin's list of plans, newest first.
        indexes = [models.Index(fields=["created_at", "id"], name="subscription_created")]

    def __str__(self) -> str:
        return f"{self.product_name} ({self.order_id})"

    @property
    def plan(self) -> Plan:
        return Plan(
            frequency=self.frequency, start=self.start_date, periods=self.periods, end=self.end_date
        )


class Installment(models.Model):
    """One charge of a subscription reported by the payment provider, recorded once per
    provider transaction (and a paid installment ``number`` once per subscription)."""

    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected by verification"
        DUPLICATE = "duplicate", "Charged twice: refund"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="installments"
    )
    number = models.PositiveIntegerField(
        "installment", help_text="0 for the first payment (the order's own), then 1, 2, ..."
    )
    transaction_id = models.CharField(
        "transaction reference",
        max_length=128,
        blank=True,
        help_text="The payment provider's id of this charge (empty for a first payment recorded "
        "before the provider named its transaction).",
    )
    payment_reference = models.CharField(
        "payment reference",
        max_length=64,
        blank=True,
        help_text="The payment provider's id of the payment that made this charge.",
    )
    status = models.CharField("status", max_length=20, choices=Status.choices, db_index=True)
    amount = MoneyField("amount", null=True, blank=True)
    currency = models.CharField("currency", max_length=3, default="USD")
    due_date = models.DateField("due on", null=True, blank=True)
    occurred_at = models.DateTimeField("charged at", null=True, blank=True)
    fail_reason = models.CharField("fail reason", max_length=200, blank=True)
    fail_text = models.CharField(
        "fail reason in words", max_length=300, blank=True, help_text="As the shopper reads it."
    )
    note = models.TextField("note", blank=True)
    source = models.CharField("source", max_length=20, blank=True)
    recorded_at = models.DateTimeField("recorded", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["number", "recorded_at", "pk"]
        verbose_name = "installment"
        verbose_name_plural = "installments"
        indexes = [
            # Installments received today / this week (the admin index), by charge or record time.
            models.Index(fields=["occurred_at"], name="installment_occurred"),
            models.Index(fields=["recorded_at"], name="installment_recorded"),
            # The 30-day chart's installments, by when they were charged (recorded, when banq
            # gave no time): the expression it filters on, and what it sums, for an index-only
            # scan on PostgreSQL (orders.admin_sales).
            models.Index(
                Coalesce("occurred_at", "recorded_at"),
                condition=models.Q(status="paid", number__gte=1),
                include=["amount", "currency"],
                name="installment_charged",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_id"],
                condition=~models.Q(transaction_id=""),
                name="installment_unique_transaction",
            ),
            models.UniqueConstraint(
                fields=["subscription", "number"],
                condition=models.Q(status="paid"),
                name="installment_paid_once_per_number",
            ),
        ]

    def __str__(self) -> str:
        return f"installment {self.number + 1} ({self.status})"

    @staticmethod
    def refundable_q() -> models.Q:
        """The installments that brought money the order's own payment doesn't count (what a
        refund of an installment can give back): the later ones paid, and any charged twice."""
        return models.Q(status="paid", number__gte=1) | models.Q(status="duplicate")


class Refund(AppendOnlyModel):
    """Money given back to the shopper, recorded by the merchant: the order's payment or one of
    its plan's later installments (``installment``), a full or partial amount, and why. Never
    changed or deleted. Written only by ``orders.services.refunds``, with the order's row locked,
    so the refunds of a payment never exceed what it brought."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    installment = models.ForeignKey(
        Installment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        help_text="The plan's later installment refunded; empty for the order's own payment.",
    )
    amount = MoneyField("amount", validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField("currency", max_length=3, default="USD")
    reason = models.CharField("reason", max_length=500)
    provider_reference = models.CharField(
        "payment provider's refund id",
        max_length=128,
        blank=True,
        help_text="Empty when the provider has no refund call (the refund was made in its "
        "dashboard and recorded here).",
    )
    provider_note = models.CharField("payment provider's note", max_length=300, blank=True)
    recorded_by = models.CharField("recorded by", max_length=150, blank=True)
    created_at = models.DateTimeField("recorded", auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "refund"
        verbose_name_plural = "refunds"

    def __str__(self) -> str:
        return f"refund of {self.amount} {self.currency} ({self.order_id})"

"""Commerce models: products, a cart per browser session, orders with snapshotted lines.

Money is ``DecimalField(max_digits=12, decimal_places=2)`` next to an ISO 4217 ``currency``.
Statuses change only through ``orders.services`` (``order_set_status`` / ``order_mark_paid``).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse


def MoneyField(verbose_name: str, **kwargs: Any) -> models.DecimalField:  # noqa: N802 - a field
    """``DecimalField(max_digits=12, decimal_places=2)``: the one shape of money (STYLE.md)."""
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, **kwargs)


class Product(models.Model):
    name = models.CharField("name", max_length=200)
    slug = models.SlugField("slug", max_length=200, unique=True)
    description = models.TextField("description", blank=True)
    price = MoneyField("price", validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField("currency", max_length=3, default="USD")
    image = models.CharField(
        "image",
        max_length=200,
        blank=True,
        help_text="Path of an illustration under static/, e.g. orders/products/mug.svg.",
    )
    is_active = models.BooleanField("active", default=True, db_index=True)
    stock = models.PositiveIntegerField(
        "stock", null=True, blank=True, help_text="Leave empty for unlimited stock."
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


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    class Attention(models.TextChoices):
        NONE = "", "None"
        PAID_AFTER_CANCELLATION = "paid_after_cancellation", "Paid after cancellation"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount mismatch"
        UNMATCHED_PAYMENT = "unmatched_payment", "Unmatched payment"
        PAYMENT_REJECTED = "payment_rejected", "Payment rejected by verification"

    number = models.CharField(
        "order number",
        max_length=32,
        unique=True,
        editable=False,
        help_text="Shown to the shopper and sent to banq as externalOrderCode.",
    )
    public_id = models.UUIDField("public id", default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("e-mail")
    name = models.CharField("name", max_length=200)
    currency = models.CharField("currency", max_length=3, default="USD")
    subtotal = MoneyField("subtotal")
    total = MoneyField("total")
    status = models.CharField(
        "status", max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    session_key = models.CharField(
        "owner session", max_length=40, blank=True, editable=False, db_index=True
    )
    payment_reference = models.CharField(
        "banq payment id",
        max_length=64,
        blank=True,
        db_index=True,
        help_text="banq's id of the payment that paid this order.",
    )
    attention = models.CharField(
        "needs attention",
        max_length=32,
        choices=Attention.choices,
        blank=True,
        default="",
        db_index=True,
    )
    attention_note = models.TextField("attention note", blank=True)
    payment_error = models.CharField(
        "payment problem",
        max_length=300,
        blank=True,
        help_text="Why the last payment failed, in words the shopper can read.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("updated", auto_now=True)
    status_changed_at = models.DateTimeField("status changed", null=True, blank=True)
    paid_at = models.DateTimeField("paid at", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "order"
        verbose_name_plural = "orders"

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:order-detail", kwargs={"public_id": self.public_id})

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None


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

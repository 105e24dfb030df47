"""``manage.py seed_orders``: realistic orders in bulk, refused outside emulator mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Count, F
from django.utils import timezone

from banq.models import BanqPayment
from orders.models import (
    Installment,
    Order,
    OrderEvent,
    OrderFlag,
    OrderItem,
    Product,
    Refund,
    Subscription,
)
from orders.services import orders_expire_stale
from storefront.management.seed import seed_orders
from tests.commands.conftest import run_command
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    call_command("load_demo_catalog", verbosity=0)
    return list(Product.objects.all())


def test_seed_orders_writes_the_count_with_a_realistic_mix(catalog):
    run = run_command("seed_orders", "--count", "3000", "--days", "90", "--seed", "7")

    assert run.code == 0, run.text
    assert "Seeded 3,000 orders" in run.out
    assert "(seed 7)" in run.out
    assert Order.objects.count() == 3000
    by_status = dict(Order.objects.values_list("status").annotate(n=Count("pk")))
    assert 0.6 < by_status["paid"] / 3000 < 0.85
    assert 0.1 < by_status["expired"] / 3000 < 0.25
    assert 0.02 < by_status["cancelled"] / 3000 < 0.09
    # Every paid order has its completed attempt, its processed webhook and its history lines.
    paid = Order.objects.filter(paid_at__isnull=False)
    assert paid.count() >= by_status["paid"]
    completed = BanqPayment.objects.filter(status="completed")
    assert completed.count() == paid.count()
    assert set(completed.values_list("banq_payment_id", flat=True)) == set(
        paid.values_list("payment_reference", flat=True)
    )
    assert WebhookEvent.objects.filter(state="processed").count() >= paid.count()
    assert WebhookEvent.objects.filter(state="duplicate").exists()
    assert OrderEvent.objects.filter(kind="paid").count() == paid.count()
    assert OrderEvent.objects.filter(kind="created").count() == 3000
    assert OrderEvent.objects.filter(kind="payment_failed").exists()
    assert OrderItem.objects.values("order").distinct().count() == 3000
    # Plans: about one order in twenty, with an installment per month since the first payment.
    plans = Order.objects.filter(recurring=True)
    assert 60 < plans.count() < 250
    assert Subscription.objects.count() == plans.count()
    assert Installment.objects.filter(number__gte=1).exists()
    # Goods that ship have an address; paid ones are shipped (with tracking), then delivered.
    ships = Order.objects.filter(requires_shipping=True)
    assert ships.exists()
    assert not ships.filter(shipping_city="").exists()
    assert (
        not Order.objects.filter(requires_shipping=False)
        .exclude(fulfilment_status="not_required")
        .exists()
    )
    shipped = ships.filter(fulfilment_status__in=["shipped", "delivered"])
    assert shipped.count() > ships.filter(status="paid").count() * 0.8
    assert not shipped.exclude(status="paid").exists()
    assert not shipped.filter(tracking_number="").exists()
    assert ships.filter(fulfilment_status="delivered").exists()
    assert OrderEvent.objects.filter(kind="shipped").count() == shipped.count()
    # Some paid orders refunded later, in whole or in part; each order's refunded total is its
    # refunds' sum, at most what was paid.
    refunds: dict[int, Decimal] = {}
    for order_id, amount in Refund.objects.values_list("order_id", "amount"):
        refunds[order_id] = refunds.get(order_id, Decimal("0")) + amount
    assert refunds
    refunded = dict(Order.objects.filter(refunded_total__gt=0).values_list("pk", "refunded_total"))
    assert refunded == refunds
    assert not Order.objects.filter(refunded_total__gt=F("total")).exists()
    assert not Order.objects.filter(refunded_total__gt=0, paid_at__isnull=True).exists()
    assert OrderEvent.objects.filter(kind="refund").count() == Refund.objects.count()
    # Paid after cancellation: flagged for a refund.
    assert OrderFlag.objects.filter(kind="refund_due").count() == (
        Order.objects.filter(status="cancelled", paid_at__isnull=False).count()
    )


def test_seed_orders_dates_fall_within_the_days_and_in_order(catalog):
    before = timezone.now()
    run_command("seed_orders", "--count", "1000", "--days", "30", "--seed", "3")
    after = timezone.now()

    first = Order.objects.order_by("created_at").first()
    last = Order.objects.order_by("created_at").last()
    assert first.created_at >= before - timedelta(days=30)
    assert last.created_at <= after
    # Spread over the whole span, not bunched at one end.
    assert first.created_at < before - timedelta(days=29)
    assert last.created_at > before - timedelta(days=1)
    assert not Order.objects.filter(paid_at__lt=F("created_at")).exists()
    assert not Order.objects.filter(paid_at__gt=after).exists()
    assert not OrderEvent.objects.filter(at__lt=F("order__created_at")).exists()
    assert not OrderEvent.objects.filter(at__gt=after).exists()
    assert not WebhookEvent.objects.filter(received_at__gt=after).exists()
    # Keys follow creation time, as they do in a store that took these orders one by one.
    pks = list(Order.objects.order_by("created_at").values_list("pk", flat=True))
    assert pks == sorted(pks)


def test_seed_orders_money_is_decimal_and_totals_add_up(catalog):
    run_command("seed_orders", "--count", "800", "--days", "60", "--seed", "11")

    order = Order.objects.filter(items__quantity__gt=1).first()
    assert isinstance(order.total, Decimal)
    assert order.total == order.total.quantize(Decimal("0.01"))
    lines: dict[int, Decimal] = {}
    for order_id, line_total in OrderItem.objects.values_list("order_id", "line_total"):
        lines[order_id] = lines.get(order_id, Decimal("0")) + line_total
    subtotals = dict(Order.objects.values_list("pk", "subtotal"))
    assert lines == subtotals
    for subtotal, shipping, total in Order.objects.values_list(
        "subtotal", "shipping_price", "total"
    ):
        assert total == subtotal + shipping
    assert Order.objects.filter(shipping_price__gt=0).exists()
    assert not Order.objects.filter(requires_shipping=False, shipping_price__gt=0).exists()
    for item in OrderItem.objects.all()[:200]:
        assert item.line_total == item.unit_price * item.quantity
    assert not BanqPayment.objects.exclude(funds=F("order__total")).exists()
    assert not Installment.objects.exclude(amount=F("subscription__amount")).exists()
    prices = {p.pk: p.price for p in catalog}
    assert all(
        unit == prices[product]
        for product, unit in OrderItem.objects.values_list("product_id", "unit_price")
    )


def test_seed_orders_leaves_only_recent_orders_open(catalog, settings):
    """The expiry finds nothing to do among closed orders, the sweep only the open links."""
    settings.ORDER_EXPIRY_MINUTES = 60 * 24  # so that some seeded orders are still open
    run_command("seed_orders", "--count", "2000", "--days", "20", "--seed", "5")

    assert orders_expire_stale(dry_run=True) == []
    open_orders = Order.objects.filter(status__in=["pending", "awaiting_payment", "failed"])
    assert open_orders.exists()
    assert not open_orders.filter(created_at__lt=timezone.now() - timedelta(days=1)).exists()
    due = BanqPayment.objects.filter(next_check_at__isnull=False)
    assert due.exists()
    assert set(due.values_list("order__status", flat=True)) == {"awaiting_payment"}


def test_seed_orders_is_deterministic_for_a_seed(catalog):
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)

    def snapshot():
        return list(
            Order.objects.order_by("pk").values_list(
                "pk", "number", "public_id", "email", "total", "status", "created_at", "paid_at"
            )
        ), list(OrderEvent.objects.order_by("pk").values_list("order_id", "kind", "at"))

    def wipe():
        Refund.objects.all().delete()
        WebhookEvent.objects.all().delete()
        BanqPayment.objects.all().delete()
        Order.objects.all().delete()

    seed_orders(count=300, days=10, seed=42, now=now)
    first = snapshot()
    wipe()
    seed_orders(count=300, days=10, seed=42, now=now)
    assert snapshot() == first
    wipe()
    seed_orders(count=300, days=10, seed=43, now=now)
    assert snapshot() != first


def test_seed_orders_twice_adds_and_the_store_keeps_creating_orders(catalog):
    """Explicit keys, then the sequences moved past them: the next checkout's order is saved."""
    run_command("seed_orders", "--count", "200", "--seed", "1")
    run_command("seed_orders", "--count", "200", "--seed", "1")

    assert Order.objects.count() == 400
    assert Order.objects.values("number").distinct().count() == 400
    order = Order.objects.create(
        number="SF-NEW-1", email="a@example.com", name="A", subtotal="1.00", total="1.00"
    )
    assert order.pk > Order.objects.exclude(pk=order.pk).order_by("-pk").first().pk
    event = OrderEvent.objects.create(order=order, kind="note", source="admin")
    assert event.pk


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_seed_orders_refuses_outside_emulator_mode(catalog, settings, environment):
    settings.BANQ_ENVIRONMENT = environment

    run = run_command("seed_orders", "--count", "50")

    assert run.code != 0
    assert f"BANQ_ENVIRONMENT is '{environment}'" in run.err
    assert "--yes" in run.err
    assert Order.objects.count() == 0


def test_seed_orders_outside_emulator_mode_with_yes(catalog, settings):
    settings.BANQ_ENVIRONMENT = "sandbox"

    run = run_command("seed_orders", "--count", "50", "--yes")

    assert run.code == 0, run.text
    assert Order.objects.count() == 50


def test_seed_orders_without_products_says_what_to_do(db):
    run = run_command("seed_orders", "--count", "10")

    assert run.code != 0
    assert "load_demo_catalog" in run.err
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--count", "0"], "--count"), (["--count", "5", "--days", "0"], "--days")],
)
def test_seed_orders_rejects_bad_numbers(catalog, args, message):
    run = run_command("seed_orders", *args)

    assert run.code != 0
    assert message in run.err

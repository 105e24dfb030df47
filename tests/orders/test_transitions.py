"""Every order transition, legal and illegal, and order_mark_paid from every status."""

import itertools

import pytest

from orders.exceptions import InvalidOrderTransition
from orders.models import Order
from orders.services import ALLOWED_TRANSITIONS, order_mark_paid, order_set_status
from tests.factories import order_create

S = Order.Status
ALL_PAIRS = list(itertools.product(S.values, S.values))
LEGAL = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED_TRANSITIONS[a] and b != S.PAID]
ILLEGAL = [
    (a, b) for a, b in ALL_PAIRS if a != b and (b not in ALLOWED_TRANSITIONS[a] or b == S.PAID)
]


def test_table_is_the_one_from_the_style_guide():
    expected = {
        S.PENDING: {S.AWAITING_PAYMENT, S.CANCELLED, S.EXPIRED},
        S.AWAITING_PAYMENT: {S.PAID, S.FAILED, S.CANCELLED, S.EXPIRED},
        S.FAILED: {S.AWAITING_PAYMENT, S.CANCELLED},
        S.PAID: set(),
        S.CANCELLED: set(),
        S.EXPIRED: set(),
    }
    assert expected == ALLOWED_TRANSITIONS


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_transition_is_written(current, target):
    order = order_create(status=current)

    result = order_set_status(order=order, status=target)

    order.refresh_from_db()
    assert result.status == target
    assert order.status == target
    assert order.status_changed_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_transition_raises_and_writes_nothing(current, target):
    order = order_create(status=current)
    before = Order.objects.values().get(pk=order.pk)

    with pytest.raises(InvalidOrderTransition):
        order_set_status(order=order, status=target)

    assert Order.objects.values().get(pk=order.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", [s for s in S.values if s != S.PAID])
def test_move_to_the_current_status_is_a_no_op(status):
    order = order_create(status=status)
    before = Order.objects.values().get(pk=order.pk)

    order_set_status(order=order, status=status)

    assert Order.objects.values().get(pk=order.pk) == before


@pytest.mark.django_db
def test_order_set_status_never_writes_paid_even_for_a_paid_order():
    order = order_create(status=S.PAID)

    with pytest.raises(InvalidOrderTransition):
        order_set_status(order=order, status=S.PAID)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PENDING, S.AWAITING_PAYMENT, S.FAILED])
def test_order_mark_paid_moves_payable_orders_to_paid(
    status, mailoutbox, django_capture_on_commit_callbacks
):
    order = order_create(status=status, email="payer@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        result, changed = order_mark_paid(order=order, payment_reference="pay_1")

    order.refresh_from_db()
    assert changed is True
    assert result.status == S.PAID
    assert order.status == S.PAID
    assert order.paid_at is not None
    assert order.payment_reference == "pay_1"
    assert order.attention == ""
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["payer@example.com"]
    assert order.number in mailoutbox[0].subject


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.CANCELLED, S.EXPIRED])
def test_order_mark_paid_on_closed_order_keeps_status_and_flags_it(
    status, mailoutbox, django_capture_on_commit_callbacks
):
    order = order_create(status=status)

    with django_capture_on_commit_callbacks(execute=True):
        _, changed = order_mark_paid(order=order, payment_reference="pay_late")

    order.refresh_from_db()
    assert changed is True
    assert order.status == status
    assert order.paid_at is not None
    assert order.payment_reference == "pay_late"
    assert order.attention == Order.Attention.PAID_AFTER_CANCELLATION
    assert "pay_late" in order.attention_note
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_order_mark_paid_twice_is_a_no_op(mailoutbox, django_capture_on_commit_callbacks):
    order = order_create(status=S.AWAITING_PAYMENT)
    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order=order, payment_reference="pay_1")
    first = Order.objects.values().get(pk=order.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result, changed = order_mark_paid(order=order, payment_reference="pay_2")

    assert changed is False
    assert result.status == S.PAID
    assert callbacks == []
    assert Order.objects.values().get(pk=order.pk) == first
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_status_change_updates_the_callers_instance():
    order = order_create(status=S.PENDING)

    order_set_status(order=order, status=S.AWAITING_PAYMENT)

    assert order.status == S.AWAITING_PAYMENT

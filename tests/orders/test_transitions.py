"""What can happen to an order's status, told as behaviour, and ``order_mark_paid`` from every
status. Each change writes one history line with its source."""

import pytest

from orders.exceptions import InvalidOrderTransition
from orders.models import Order, OrderEvent, OrderFlag
from orders.services import order_flag_raise, order_mark_paid, order_set_status
from tests.factories import order_create

S = Order.Status
ADMIN = OrderEvent.Source.ADMIN


def _moves(current, targets):
    return [(current, target) for target in targets]


ALLOWED = [
    *_moves(S.PENDING, [S.AWAITING_PAYMENT, S.CANCELLED, S.EXPIRED]),  # pay, cancel, time out
    *_moves(S.AWAITING_PAYMENT, [S.FAILED, S.CANCELLED, S.EXPIRED]),
    *_moves(S.FAILED, [S.AWAITING_PAYMENT, S.CANCELLED, S.EXPIRED]),  # try again, or give up
]
REFUSED = [
    *_moves(S.PAID, [S.PENDING, S.AWAITING_PAYMENT, S.FAILED, S.CANCELLED, S.EXPIRED]),
    *_moves(S.CANCELLED, [S.PENDING, S.AWAITING_PAYMENT, S.FAILED, S.EXPIRED]),
    *_moves(S.EXPIRED, [S.PENDING, S.AWAITING_PAYMENT, S.FAILED, S.CANCELLED]),
    *_moves(S.AWAITING_PAYMENT, [S.PENDING]),  # nothing goes back to pending
    *_moves(S.FAILED, [S.PENDING]),
    *_moves(S.PENDING, [S.FAILED]),  # only a payment that was tried can fail
]


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_an_open_order_can_move_on(current, target):
    order = order_create(status=current)

    result = order_set_status(order=order, status=target, source=ADMIN, actor="merchant")

    order.refresh_from_db()
    assert result.status == target == order.status
    assert order.status_changed_at is not None
    line = order.history.get()
    assert (line.kind, line.source, line.actor) == (OrderEvent.Kind.STATUS, ADMIN, "merchant")
    assert (line.from_status, line.to_status) == (current, target)


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_settled_orders_never_move_and_nothing_goes_back(current, target):
    order = order_create(status=current)
    before = Order.objects.values().get(pk=order.pk)

    with pytest.raises(InvalidOrderTransition):
        order_set_status(order=order, status=target, source=ADMIN)

    assert Order.objects.values().get(pk=order.pk) == before
    assert not order.history.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [s for s in S.values if s != S.PAID])
def test_move_to_the_current_status_is_a_no_op(status):
    order = order_create(status=status)
    before = Order.objects.values().get(pk=order.pk)

    order_set_status(order=order, status=status, source=ADMIN)

    assert Order.objects.values().get(pk=order.pk) == before
    assert not order.history.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", S.values)
def test_order_set_status_never_writes_paid(status):
    order = order_create(status=status)

    with pytest.raises(InvalidOrderTransition):
        order_set_status(order=order, status=S.PAID, source=ADMIN)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PENDING, S.AWAITING_PAYMENT, S.FAILED, S.EXPIRED])
def test_order_mark_paid_makes_unpaid_orders_paid(status, mailoutbox, run_tasks):
    order = order_create(status=status, email="payer@example.com")

    result, changed = order_mark_paid(
        order=order, payment_reference="pay_1", source=OrderEvent.Source.WEBHOOK
    )
    run_tasks()

    order.refresh_from_db()
    assert changed is True
    assert result.status == order.status == S.PAID
    assert order.paid_at is not None
    assert order.payment_reference == "pay_1"
    assert not order.flags.exists()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["payer@example.com"]
    assert order.number in mailoutbox[0].subject
    paid = order.history.get(kind=OrderEvent.Kind.PAID)
    assert (paid.from_status, paid.to_status, paid.source) == (status, S.PAID, "webhook")
    if status == S.EXPIRED:
        assert "after the order had expired" in paid.message
    assert order.history.filter(kind=OrderEvent.Kind.EMAIL).count() == 1


@pytest.mark.django_db
def test_order_mark_paid_on_a_cancelled_order_keeps_it_cancelled_and_flags_a_refund(
    mailoutbox, run_tasks
):
    order = order_create(status=S.CANCELLED)

    _, changed = order_mark_paid(
        order=order, payment_reference="pay_late", source=OrderEvent.Source.SWEEP
    )
    run_tasks()

    order.refresh_from_db()
    assert changed is True
    assert order.status == S.CANCELLED
    assert order.refund_due
    assert order.paid_at is not None
    flag = order.flags.get()
    assert flag.kind == OrderFlag.Kind.REFUND_DUE
    assert flag.reference == "pay_late"
    assert len(mailoutbox) == 1
    assert "refunded" in mailoutbox[0].subject


@pytest.mark.django_db
def test_order_mark_paid_twice_is_a_no_op(
    mailoutbox, run_tasks, django_capture_on_commit_callbacks
):
    order = order_create(status=S.AWAITING_PAYMENT)
    order_mark_paid(order=order, payment_reference="pay_1", source=ADMIN)
    run_tasks()
    first = Order.objects.values().get(pk=order.pk)
    lines = order.history.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result, changed = order_mark_paid(order=order, payment_reference="pay_2", source=ADMIN)
    run_tasks()

    assert changed is False
    assert result.status == S.PAID
    assert callbacks == []
    assert Order.objects.values().get(pk=order.pk) == first
    assert order.history.count() == lines
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_status_change_updates_the_callers_instance():
    order = order_create(status=S.PENDING)

    order_set_status(order=order, status=S.AWAITING_PAYMENT, source=ADMIN)

    assert order.status == S.AWAITING_PAYMENT


@pytest.mark.django_db
def test_flags_accumulate_and_the_same_one_stands_once():
    order = order_create(status=S.AWAITING_PAYMENT)

    for payment in ("p1", "p2", "p3", "p4"):
        order_flag_raise(
            order=order,
            kind=OrderFlag.Kind.AMOUNT_MISMATCH,
            note=f"{payment} paid 0.01",
            reference=payment,
            source=OrderEvent.Source.WEBHOOK,
        )
    again = order_flag_raise(
        order=order,
        kind=OrderFlag.Kind.AMOUNT_MISMATCH,
        note="p1 again",
        reference="p1",
        source=OrderEvent.Source.SWEEP,
    )
    order_mark_paid(order=order, payment_reference="p5", source=OrderEvent.Source.WEBHOOK)

    assert again is None
    assert sorted(order.flags.values_list("reference", flat=True)) == ["p1", "p2", "p3", "p4"]
    assert order.history.filter(kind=OrderEvent.Kind.FLAG).count() == 4


@pytest.mark.django_db
def test_history_is_append_only():
    order = order_create(status=S.PENDING)
    order_set_status(order=order, status=S.AWAITING_PAYMENT, source=ADMIN)
    line = order.history.get()

    line.message = "rewritten"
    with pytest.raises(TypeError):
        line.save()
    with pytest.raises(TypeError):
        line.delete()


@pytest.mark.django_db
def test_a_status_change_reaches_an_order_status_changed_receiver_through_the_worker(run_tasks):
    from orders.signals import order_status_changed

    heard = []

    def receiver(sender, order, previous, status, **kwargs):
        heard.append((order.pk, previous, status))

    order = order_create(status=S.PENDING)
    order_status_changed.connect(receiver)
    try:
        order_set_status(order=order, status=S.AWAITING_PAYMENT, source=ADMIN)
        assert heard == []  # not in the request: the worker sends it
        run_tasks()
    finally:
        order_status_changed.disconnect(receiver)
    assert heard == [(order.pk, S.PENDING, S.AWAITING_PAYMENT)]


@pytest.mark.django_db
def test_a_status_change_nobody_listens_to_and_that_sends_no_email_leaves_no_task(
    run_tasks, mailoutbox
):
    order = order_create(status=S.PENDING)

    order_set_status(order=order, status=S.AWAITING_PAYMENT, source=ADMIN)
    order_set_status(order=order, status=S.CANCELLED, source=ADMIN)

    assert run_tasks() == 0
    assert mailoutbox == []
    assert order.history.count() == 2

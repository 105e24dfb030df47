"""What the admin shows and never writes: payment attempts, webhook events, plans, and the order's
lines, flags, history and events (``storefront.admin_mixins.ReadOnlyAdminMixin``)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from banq.admin import BanqPaymentAdmin, BanqPaymentInline
from banq.models import BanqPayment
from orders.admin import (
    OrderFlagInline,
    OrderHistoryInline,
    OrderItemInline,
    SubscriptionAdmin,
)
from orders.models import Order, Subscription
from storefront.admin_mixins import ReadOnlyAdminMixin
from tests.admin.conftest import full_order
from webhooks.admin import WebhookEventAdmin, WebhookEventInline, WebhookRefusalAdmin
from webhooks.models import WebhookEvent, WebhookRefusal

READ_ONLY_ADMINS = [
    (BanqPaymentAdmin, BanqPayment),
    (WebhookEventAdmin, WebhookEvent),
    (SubscriptionAdmin, Subscription),
]
READ_ONLY_INLINES = [
    OrderItemInline,
    OrderFlagInline,
    OrderHistoryInline,
    BanqPaymentInline,
    WebhookEventInline,
]


@pytest.fixture
def superuser_request(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    return request


@pytest.mark.parametrize(("admin_class", "model"), READ_ONLY_ADMINS)
def test_read_only_admins_refuse_even_a_superuser_to_write(admin_class, model, superuser_request):
    model_admin = admin_class(model, admin.site)

    assert model_admin.has_add_permission(superuser_request) is False
    assert model_admin.has_change_permission(superuser_request) is False
    assert model_admin.has_delete_permission(superuser_request) is False
    assert model_admin.has_view_permission(superuser_request) is True


@pytest.mark.parametrize("inline_class", READ_ONLY_INLINES)
def test_read_only_inlines_offer_no_add_change_or_delete(inline_class, superuser_request):
    inline = inline_class(Order, admin.site)

    assert isinstance(inline, ReadOnlyAdminMixin)
    assert inline.has_add_permission(superuser_request, None) is False
    assert inline.has_change_permission(superuser_request) is False
    assert inline.has_delete_permission(superuser_request) is False
    assert inline.get_formset(superuser_request).can_delete is False


def test_webhook_refusal_counts_may_be_deleted_but_not_written(superuser_request):
    model_admin = WebhookRefusalAdmin(WebhookRefusal, admin.site)

    assert model_admin.has_add_permission(superuser_request) is False
    assert model_admin.has_change_permission(superuser_request) is False
    assert model_admin.has_delete_permission(superuser_request) is True


def test_the_order_page_has_no_delete_box_for_its_read_only_rows(admin_client):
    order, _, _ = full_order()

    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert page.count("payment attempt") >= 1  # the inlines are shown
    assert "-DELETE" not in page

"""load_demo_catalog and ensure_demo_admin."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command

from orders.models import Product

pytestmark = pytest.mark.django_db


def _run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_load_demo_catalog_creates_products_with_the_demo_prices():
    _run("load_demo_catalog")

    prices = set(Product.objects.values_list("price", flat=True))
    assert 5 <= Product.objects.filter(is_active=True).count() <= 8
    assert {Decimal("19.90"), Decimal("0.10"), Decimal("1250.00")} <= prices
    for product in Product.objects.all():
        assert product.image
        assert finders.find(product.image), product.image


def test_load_demo_catalog_is_idempotent():
    _run("load_demo_catalog")
    first = list(Product.objects.order_by("slug").values("pk", "slug", "name", "price"))

    output = _run("load_demo_catalog")

    assert list(Product.objects.order_by("slug").values("pk", "slug", "name", "price")) == first
    assert "0 created" in output


def test_load_demo_catalog_keeps_the_merchants_edits():
    _run("load_demo_catalog")
    Product.objects.filter(slug="banq-mug").update(price=Decimal("1.00"), is_active=False)
    Product.objects.filter(slug="city-bicycle").update(stock=1)
    Product.objects.filter(slug="sticker").delete()

    output = _run("load_demo_catalog")  # what every `make run` does

    mug = Product.objects.get(slug="banq-mug")
    assert (mug.price, mug.is_active) == (Decimal("1.00"), False)
    assert Product.objects.get(slug="city-bicycle").stock == 1
    assert Product.objects.filter(slug="sticker").exists()  # a missing one comes back
    assert "1 created" in output


def test_load_demo_catalog_reset_restores_the_demo_products():
    _run("load_demo_catalog")
    Product.objects.filter(slug="banq-mug").update(price=Decimal("1.00"), is_active=False)
    Product.objects.filter(slug="city-bicycle").update(stock=1)

    output = _run("load_demo_catalog", "--reset", "--yes")

    mug = Product.objects.get(slug="banq-mug")
    assert (mug.price, mug.is_active) == (Decimal("19.90"), True)
    assert Product.objects.get(slug="city-bicycle").stock == 5
    assert "reset" in output


def test_load_demo_catalog_reset_never_overwrites_edits_without_yes():
    _run("load_demo_catalog")
    Product.objects.filter(slug="banq-mug").update(price=Decimal("1.00"))

    with pytest.raises(CommandError, match=r"banq-mug.*add --yes"):
        _run("load_demo_catalog", "--reset")

    assert Product.objects.get(slug="banq-mug").price == Decimal("1.00")


def test_load_demo_catalog_reset_of_an_unedited_catalog_needs_no_yes():
    _run("load_demo_catalog")

    assert "reset" in _run("load_demo_catalog", "--reset")


def test_ensure_demo_admin_prints_the_password_only_when_it_creates_the_user():
    created = _run("ensure_demo_admin")

    user = get_user_model().objects.get(username="admin")
    password = created.split("password:")[1].split()[0]
    assert user.is_superuser
    assert user.is_staff
    assert user.check_password(password)
    assert len(password) >= 12

    again = _run("ensure_demo_admin")

    assert "already exists" in again
    assert password not in again
    assert "password:" not in again
    assert get_user_model().objects.count() == 1


def test_ensure_demo_admin_options():
    output = _run("ensure_demo_admin", "--username", "boss", "--password", "s3cret-Pass!")

    assert "boss" in output
    assert get_user_model().objects.get(username="boss").check_password("s3cret-Pass!")


def test_ensure_demo_admin_refuses_an_empty_username():
    with pytest.raises(CommandError):
        _run("ensure_demo_admin", "--username", " ")

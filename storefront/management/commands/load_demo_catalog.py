"""``manage.py load_demo_catalog``: the demo products that are missing; ``--reset`` restores them
(with ``--yes`` when that overwrites the merchant's edits)."""

from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders.models import Product, ShippingMethod

DEMO_PRODUCTS = [
    {
        "slug": "banq-mug",
        "requires_shipping": True,
        "name": "banq mug",
        "price": Decimal("19.90"),
        "image": "orders/products/mug.svg",
        "stock": None,
        "description": "A sturdy stoneware mug for the morning coffee. Dishwasher safe.",
    },
    {
        "slug": "organic-t-shirt",
        "requires_shipping": True,
        "name": "Organic T-shirt",
        "price": Decimal("24.50"),
        "image": "orders/products/tshirt.svg",
        "stock": None,
        "description": "Soft organic cotton, unisex cut.",
    },
    {
        "slug": "sticker",
        "name": "Sticker",
        "price": Decimal("0.10"),
        "image": "orders/products/sticker.svg",
        "stock": None,
        "description": "A tiny sticker for a tiny price: handy for testing small payments.",
    },
    {
        "slug": "dotted-notebook",
        "name": "Dotted notebook",
        "price": Decimal("7.35"),
        "image": "orders/products/notebook.svg",
        "stock": 100,
        "description": "A5, 120 dotted pages, lies flat.",
    },
    {
        "slug": "canvas-tote",
        "requires_shipping": True,
        "name": "Canvas tote bag",
        "price": Decimal("12.00"),
        "image": "orders/products/tote.svg",
        "stock": None,
        "description": "Heavy canvas, long handles.",
    },
    {
        "slug": "city-bicycle",
        "requires_shipping": True,
        "name": "City bicycle",
        "price": Decimal("1250.00"),
        "image": "orders/products/bicycle.svg",
        "stock": 5,
        "description": "A light steel city bike with three gears and mudguards.",
    },
    {
        "slug": "banq-club-membership",
        "name": "banq club membership",
        "price": Decimal("9.90"),
        "image": "orders/products/membership.svg",
        "stock": None,
        "description": "Members' prices and a small surprise in the post every month. Paid "
        "monthly with banq: the first payment today, then every month, 12 payments in all.",
        "frequency": "monthly",
        "periods": 12,
        "plan_end_date": None,
    },
]
# One-time products ship without a plan; --reset puts that back too.
PLAN_FIELDS = {"frequency": "once", "periods": None, "plan_end_date": None}
# Goods that ship say so; the others (digital goods, plans) don't.
DEFAULT_FIELDS = {**PLAN_FIELDS, "requires_shipping": False}
# The demo's shipping methods, keyed by name: created when missing, restored by --reset.
DEMO_SHIPPING_METHODS = [
    {
        "name": "Standard shipping",
        "price": Decimal("4.90"),
        "free_over": Decimal("50.00"),
        "countries": [],
        "position": 1,
    },
    {
        "name": "Express (United States)",
        "price": Decimal("14.90"),
        "free_over": None,
        "countries": ["US"],
        "position": 2,
    },
]


class Command(BaseCommand):
    help = (
        "Create the demo products that are missing (keyed by slug). A product that exists is left "
        "as the merchant has it (price, stock, active); --reset puts every demo product back as "
        "shipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="restore the demo products' names, prices, stock and active flags (overwrites "
            "the merchant's edits: needs --yes when there are any)",
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="confirm that --reset may overwrite the merchant's edits",
        )

    def handle(self, *args, reset: bool = False, yes: bool = False, **options):
        if reset and not yes:
            edited = _edited_demo_products()
            if edited:
                raise CommandError(
                    f"--reset would overwrite the merchant's edits of {len(edited)} demo "
                    f"product(s) ({', '.join(edited)}). Nothing changed; add --yes to go ahead."
                )
        created_count = reset_count = 0
        with transaction.atomic():
            for data in DEMO_PRODUCTS:
                fields = {
                    **DEFAULT_FIELDS,
                    **{k: v for k, v in data.items() if k != "slug"},
                    "currency": "USD",
                    "is_active": True,
                }
                if reset:
                    _, created = Product.objects.update_or_create(
                        slug=data["slug"], defaults=fields
                    )
                    reset_count += int(not created)
                else:
                    _, created = Product.objects.get_or_create(slug=data["slug"], defaults=fields)
                created_count += int(created)
            methods_created = _demo_shipping_methods(reset=reset)
        kept = len(DEMO_PRODUCTS) - created_count - reset_count
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalog: {len(DEMO_PRODUCTS)} products ({created_count} created, "
                + (f"{reset_count} reset)." if reset else f"{kept} kept as they are).")
                + f" Shipping methods: {methods_created} created."
            )
        )


def _demo_shipping_methods(*, reset: bool) -> int:
    """Create the demo's shipping methods that are missing (``reset``: restore them too)."""
    created_count = 0
    for data in DEMO_SHIPPING_METHODS:
        fields = {**{k: v for k, v in data.items() if k != "name"}, "currency": "USD"}
        fields["is_active"] = True
        if reset:
            _, created = ShippingMethod.objects.update_or_create(name=data["name"], defaults=fields)
        else:
            _, created = ShippingMethod.objects.get_or_create(name=data["name"], defaults=fields)
        created_count += int(created)
    return created_count


def _edited_demo_products() -> list[str]:
    """Slugs of the demo products that exist and differ from how they shipped."""
    edited = []
    shipped = {data["slug"]: data for data in DEMO_PRODUCTS}
    for product in Product.objects.filter(slug__in=shipped):
        data = shipped[product.slug]
        changed = not product.is_active or product.currency != "USD"
        shipped_fields = {**DEFAULT_FIELDS, **data}
        changed = changed or any(
            getattr(product, name) != value
            for name, value in shipped_fields.items()
            if name != "slug"
        )
        if changed:
            edited.append(product.slug)
    return sorted(edited)

"""``manage.py load_demo_catalog``: the demo products that are missing; ``--reset`` restores."""

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from orders.models import Product

DEMO_PRODUCTS = [
    {
        "slug": "banq-mug",
        "name": "banq mug",
        "price": Decimal("19.90"),
        "image": "orders/products/mug.svg",
        "stock": None,
        "description": "A sturdy stoneware mug for the morning coffee. Dishwasher safe.",
    },
    {
        "slug": "organic-t-shirt",
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
        "name": "Canvas tote bag",
        "price": Decimal("12.00"),
        "image": "orders/products/tote.svg",
        "stock": None,
        "description": "Heavy canvas, long handles.",
    },
    {
        "slug": "city-bicycle",
        "name": "City bicycle",
        "price": Decimal("1250.00"),
        "image": "orders/products/bicycle.svg",
        "stock": 5,
        "description": "A light steel city bike with three gears and mudguards.",
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
            help="restore the demo products' names, prices, stock and active flags",
        )

    def handle(self, *args, reset: bool = False, **options):
        created_count = reset_count = 0
        with transaction.atomic():
            for data in DEMO_PRODUCTS:
                fields = {
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
        kept = len(DEMO_PRODUCTS) - created_count - reset_count
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalog: {len(DEMO_PRODUCTS)} products ({created_count} created, "
                + (f"{reset_count} reset)." if reset else f"{kept} kept as they are).")
            )
        )

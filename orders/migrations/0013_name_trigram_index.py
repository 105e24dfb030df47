# The admin's order search reads the customer's name too (search_fields); without its own
# trigram index, that OR made PostgreSQL read every order on each search.

from importlib import import_module

from django.db import migrations

trigram_indexes = import_module("orders.migrations.0009_scale_indexes").trigram_indexes


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0012_merge_scale_indexes"),
    ]

    operations = [
        trigram_indexes("orders_order", ["name"]),
    ]

"""Every migration of the store applies and reverses: forward, back to zero, forward again, on a
scratch database of this run's engine (PostgreSQL on CI's second leg)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from django.db import connection

from tests.production.test_settings import BASE, clean_env

# Reversed in this order: each app's migrations before those they depend on.
APPS = ("webhooks", "banq", "orders", "storefront")
TABLE_PREFIXES = tuple(f"{app}_" for app in APPS)


# One Django process does it all (a process per step takes five times as long).
SCRIPT = """
import io, json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
django.setup()
from django.core.management import call_command
from django.db import connection

apps, prefixes = sys.argv[1].split(","), tuple(sys.argv[2].split(","))


def tables():
    return [t for t in connection.introspection.table_names() if t.startswith(prefixes)]


def shown():
    out = io.StringIO()
    call_command("showmigrations", *apps, stdout=out)
    return out.getvalue()


steps = {}
call_command("migrate", interactive=False, verbosity=0)
steps["forward"] = {"tables": tables(), "shown": shown()}
for app in apps:
    call_command("migrate", app, "zero", interactive=False, verbosity=0)
steps["zero"] = {"tables": tables(), "shown": shown()}
call_command("migrate", interactive=False, verbosity=0)
steps["again"] = {"tables": tables(), "shown": shown()}
print(json.dumps(steps))
"""


def migrate_back_and_forth(database_url: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(APPS), ",".join(TABLE_PREFIXES)],
        cwd=BASE,
        env=clean_env(DATABASE_URL=database_url, DATABASE_POOL="false"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def scratch_database(tmp_path) -> Iterator[str]:
    settings_dict = connection.settings_dict
    if "postgresql" not in settings_dict["ENGINE"]:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    import psycopg

    name = f"storefront_migrations_{uuid.uuid4().hex[:8]}"
    params = {
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": settings_dict.get("PORT") or 5432,
        "user": settings_dict.get("USER") or "postgres",
        "password": settings_dict.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    user = quote(params["user"], safe="")
    auth = f"{user}:{quote(params['password'], safe='')}" if params["password"] else user
    try:
        yield f"postgres://{auth}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(**params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.integration
def test_every_migration_applies_reverses_and_applies_again(scratch_database):
    steps = migrate_back_and_forth(scratch_database)

    assert len(steps["forward"]["tables"]) >= 10
    assert "[ ]" not in steps["forward"]["shown"]
    assert steps["zero"]["tables"] == []
    assert "[X]" not in steps["zero"]["shown"]
    assert steps["zero"]["shown"].count("[ ]") == steps["forward"]["shown"].count("[X]")
    assert sorted(steps["again"]["tables"]) == sorted(steps["forward"]["tables"])
    assert steps["again"]["shown"] == steps["forward"]["shown"]

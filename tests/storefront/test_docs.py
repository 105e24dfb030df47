"""Every variable settings.py reads is documented in .env.example and in the README."""

import re
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)


def settings_variables() -> set[str]:
    source = (BASE / "storefront/settings.py").read_text()
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))
    names |= set(re.findall(r'_banq_secret\("([A-Z_]+)"\)', source))
    return names


def test_settings_reads_the_expected_kind_of_names():
    names = settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "BANQ_ENVIRONMENT", "BANQ_WEBHOOK_TOKEN"} <= names


def test_every_variable_is_in_env_example():
    example = (BASE / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert settings_variables() - documented == set()


def test_every_variable_is_in_the_readme():
    readme = (BASE / "README.md").read_text()
    missing = {name for name in settings_variables() if f"`{name}`" not in readme}
    assert missing == set()

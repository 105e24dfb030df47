"""What the import contracts in pyproject.toml can't say on their own (lint-imports checks them)."""

from __future__ import annotations

import re
import sys
import tomllib

from tests.architecture.codebase import BASE_DIR, modules, top_level_imports

CONTRACTS = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["importlinter"]
EMULATOR_MAY_IMPORT = {"requests", "segno", "banq_emulator"}


def _storefront_children() -> set[str]:
    """storefront's modules and packages one level down (``storefront.edge``,
    ``storefront.management``), as import-linter's layers name them."""
    children = {p.stem for p in (BASE_DIR / "storefront").glob("*.py") if p.stem != "__init__"}
    children |= {p.parent.name for p in (BASE_DIR / "storefront").glob("*/__init__.py")}
    return {f"storefront.{name}" for name in children}


def test_every_storefront_module_has_a_place_in_the_project_layers():
    (project,) = (c for c in CONTRACTS["contracts"] if c["name"].startswith("Layers:"))
    placed = set(re.findall(r"storefront\.\w+", " ".join(project["layers"])))

    assert _storefront_children() - placed == set(), (
        "Place each new storefront module in the project's layers (pyproject.toml): above the "
        "apps if it wires them, with the shared helpers if the apps may use it"
    )
    assert placed - _storefront_children() == set()


def test_the_emulator_imports_only_the_standard_library_requests_and_segno():
    imported = set().union(*(top_level_imports(m) for m in modules("banq_emulator").values()))

    assert imported - set(sys.stdlib_module_names) - EMULATOR_MAY_IMPORT == set()
    assert "segno" in imported  # the check reads the emulator's imports at all

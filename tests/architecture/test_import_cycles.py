"""No import cycles among the project's modules, counting the imports written inside functions.

import-linter checks the direction between the apps; inside an app a cycle hides easily behind an
import moved into a function body ("to break the cycle"), which still makes the two modules
depend on each other. This check reads every module's syntax tree and counts every import,
wherever it is written (inside functions and under ``if TYPE_CHECKING:`` too).
"""

from __future__ import annotations

import textwrap

from tests.architecture.codebase import cycle_path, cycles, describe, import_graph, modules

PACKAGES = ("storefront", "orders", "banq", "webhooks", "banq_emulator", "bench")

# Cycles allowed for now: none. Each entry would be the exact set of modules that reach each
# other; a cycle that appears, grows or shrinks fails the check, and so does an entry that no
# longer occurs. (Issue 22's seam work emptied it: the payable and expiry rules are in
# orders.rules, the side effects in orders.tasks, the overdue-installment sweep in banq.overdue.)
KNOWN_CYCLES: dict[str, frozenset[str]] = {}


def _found(*packages: str, **kwargs) -> tuple[list[frozenset[str]], dict]:
    graph = import_graph(modules(*packages, **kwargs))
    return cycles(graph), graph


def test_no_import_cycle_but_the_known_ones():
    found, graph = _found(*PACKAGES)

    new = [group for group in found if group not in KNOWN_CYCLES.values()]

    assert not new, "Import cycles (break them; moving an import into a function doesn't):\n" + (
        "\n".join(f"- {describe(cycle_path(graph, group))}" for group in new)
    )


def test_every_known_cycle_still_exists():
    found, _ = _found(*PACKAGES)

    gone = [name for name, group in KNOWN_CYCLES.items() if group not in found]

    assert not gone, f"No longer cycles, remove them from KNOWN_CYCLES: {gone}"


def _package(root, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


def test_the_check_finds_a_cycle_closed_inside_a_function(tmp_path):
    _package(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/status.py": """
                from shop.mail import send

                def mark_paid():
                    send()
            """,
            "shop/mail.py": """
                def send():
                    from shop.status import mark_paid  # "lazy, to avoid the cycle"
            """,
            "shop/other.py": "from . import status\n",
        },
    )

    found, graph = _found("shop", root=tmp_path)

    assert found == [frozenset({"shop.status", "shop.mail"})]
    assert describe(cycle_path(graph, found[0])) == (
        "shop.mail -> shop.status (l.3, in a function) -> shop.mail (l.2)"
    )


def test_the_check_counts_type_checking_and_relative_imports(tmp_path):
    _package(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/state.py": """
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from .persist import StateFile
            """,
            "shop/persist.py": "from shop.state import State\n",
        },
    )

    found, _ = _found("shop", root=tmp_path)

    assert found == [frozenset({"shop.state", "shop.persist"})]


def test_importing_a_name_from_a_package_is_not_importing_its_submodules(tmp_path):
    _package(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/services/__init__.py": "from shop.services.cart import cart_add\n",
            "shop/services/cart.py": "from shop import tasks\n",
            "shop/tasks.py": "def run():\n    from shop.services.cart import cart_add\n",
            "shop/views.py": "from shop.services import cart_add\n",
        },
    )

    found, graph = _found("shop", root=tmp_path)

    assert found == [frozenset({"shop.services.cart", "shop.tasks"})]
    assert set(graph["shop.views"]) == {"shop.services"}

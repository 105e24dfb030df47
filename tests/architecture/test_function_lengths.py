"""Functions stay short: at most 60 lines in the apps, 100 in the emulator and the benchmarks.

A function's length runs from its ``def`` line to the last line of its body (docstring, comments
and blank lines included), as a reader sees it. Nested functions count on their own and inside
the function that holds them.
"""

from __future__ import annotations

import textwrap

from tests.architecture.codebase import functions, modules

LIMITS = {
    "storefront": 60,
    "orders": 60,
    "banq": 60,
    "webhooks": 60,
    "banq_emulator": 100,
    "bench": 100,
}

# Functions allowed over their limit for now: none ("path qualname" each). An entry that is no
# longer over its limit fails the check too. (Issue 22's seam work emptied it.)
KNOWN_LONG: set[str] = set()


def _too_long() -> dict[str, str]:
    """``{"path qualname": "where: N lines (limit L)"}`` for every function over its limit."""
    found = {}
    for package, limit in LIMITS.items():
        for function in functions(modules(package)):
            if function.length > limit:
                key = f"{function.module.relative_path} {function.qualname}"
                found[key] = f"{function.where}: {function.length} lines (limit {limit})"
    return found


def test_no_function_over_its_limit_but_the_known_ones():
    too_long = _too_long()

    new = sorted(text for key, text in too_long.items() if key not in KNOWN_LONG)

    assert not new, "Functions over their limit (split them by what they do):\n" + "\n".join(new)


def test_every_known_long_function_is_still_long():
    too_long = _too_long()

    short = sorted(KNOWN_LONG - set(too_long))

    assert not short, f"Within the limit now, remove them from KNOWN_LONG: {short}"


def test_the_length_runs_from_def_to_the_last_line_of_the_body(tmp_path):
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "views.py").write_text(
        textwrap.dedent(
            '''
            class CartView:
                def post(self):
                    """Add a line."""

                    def helper():
                        return 1

                    return helper()


            async def tick():
                pass
            '''
        )
    )

    found = {f.qualname: f.length for f in functions(modules("shop", root=tmp_path))}

    assert found == {"CartView.post": 7, "CartView.post.helper": 2, "tick": 2}

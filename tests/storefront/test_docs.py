"""The documentation stays true and inside the repository: every variable settings.py reads is
documented in .env.example and in README.md or docs/, every relative link resolves, and no file
cites a path outside the repository (a clone has nothing beside it)."""

import re
import subprocess
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
DOCS = [BASE / "README.md", *sorted((BASE / "docs").glob("*.md")), BASE / "banq_emulator/README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
README_MAX_LINES = 160  # about 150: the detail belongs in docs/


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


def test_every_variable_is_in_the_readme_or_the_docs():
    text = "".join(path.read_text() for path in DOCS)
    missing = {name for name in settings_variables() if f"`{name}`" not in text}
    assert missing == set()


def heading_anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", path.read_text(), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def resolves(path: Path, target: str) -> bool:
    """Whether a relative link of ``path`` names a file or folder of the repository (and, for a
    Markdown file, one of its headings when it has an anchor)."""
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists() or not linked.is_relative_to(BASE):
        return False
    return not anchor or linked.suffix != ".md" or anchor in heading_anchors(linked)


def broken_links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(path.read_text())
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto: are not ours
        and not resolves(path, target)
    ]


def test_every_relative_link_in_the_readme_and_the_docs_resolves():
    broken = {path.relative_to(BASE).as_posix(): broken_links(path) for path in DOCS}
    assert {name: links for name, links in broken.items() if links} == {}


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.BASE", tmp_path)
    (tmp_path / "guide.md").write_text("# Going live\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](guide.md#going-live) [gone](nothere.md) [bad anchor](guide.md#staying-home) "
        "[out](../elsewhere.md) [web](https://example.com/x.md)"
    )
    assert broken_links(page) == ["nothere.md", "guide.md#staying-home", "../elsewhere.md"]


def test_the_readme_stays_short():
    lines = (BASE / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move the detail to docs/"


OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "/work/" + "shared", "STYLE" + r"\.md"]))


def test_no_file_cites_a_path_outside_the_repository():
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=BASE, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    citing = []
    for name in filter(None, tracked):
        path = BASE / name
        if path.suffix in {".png", ".jpg", ".ico", ".woff2"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        citing += [f"{name}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert citing == []

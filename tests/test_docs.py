"""The README stays a ten-minute read and every link in it and in docs/ leads somewhere."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from ven_edge.config import PlanConfig
from ven_edge.plan.cli import STRATEGY_NAMES

README = REPO_ROOT / "README.md"
PAGES = sorted((REPO_ROOT / "docs").glob("*.md"))
MAX_README_LINES = 250
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # "# comment" lines in code blocks
    return {_anchor(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_links_lead_to_files_and_headings(page: Path) -> None:
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}: no such file"
        if fragment:
            assert fragment in _anchors(linked), f"{page.name}: {target}: no such heading"


def test_plan_cli_takes_the_configuration_strategy_names() -> None:
    configured = set(typing.get_args(typing.get_type_hints(PlanConfig)["strategy"]))
    assert configured == {"state", "fraction", "percentile"}
    assert configured <= set(STRATEGY_NAMES)


_CITATION = re.compile(r"docs/([\w-]+)\.md((?:\s*(?:,|;|and|–|-)?\s*§\d+(?:\.\d+)*)*)")
_SOURCES = ("ven_edge", "vtn_lite", "hil", "bench", "tests", "scripts")


def _source_files() -> list[Path]:
    files = [p for top in _SOURCES for p in (REPO_ROOT / top).rglob("*") if p.is_file()]
    return [p for p in files if p.suffix in {".py", ".sh", ".toml"}]


def _sections(page: Path) -> set[str]:
    headings = re.findall(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", page.read_text(encoding="utf-8"), re.M)
    return set(headings)


def test_comments_cite_pages_and_sections_that_exist() -> None:
    cited = 0
    for path in _source_files():
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name, refs in _CITATION.findall(line):
                where = f"{path.relative_to(REPO_ROOT)}:{line_no}"
                page = REPO_ROOT / "docs" / f"{name}.md"
                assert page.is_file(), f"{where}: no docs/{name}.md"
                for section in re.findall(r"§(\d+(?:\.\d+)*)", refs):
                    cited += 1
                    assert section in _sections(page), f"{where}: no §{section} in docs/{name}.md"
    assert cited > 100  # the check must see the citations it is meant to check


def test_no_comment_cites_an_outside_reference_or_an_issue() -> None:
    outside = re.compile(r"(?<![\w/])(?:reference/)?(?:cta2045|openadr3|hpwh|ecosystem)\.md")
    issue = re.compile(r"\bissue (?:\d+|\"[^\"]+\")", re.I)
    for path in _source_files():
        if path.suffix == ".py" and path.name == "test_docs.py":
            continue
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(REPO_ROOT)}:{line_no}"
            assert not outside.search(line), f"{where}: cites a document outside the repository"
            assert not issue.search(line), f"{where}: cites an issue"

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

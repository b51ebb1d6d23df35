"""``ven-edge plan`` as a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_module

README_PROBLEM = REPO_ROOT / "sample_data" / "problems" / "toolkit_readme.json"


def test_plan_prints_the_plan_json() -> None:
    result = run_module("ven_edge", "plan", str(README_PROBLEM))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"feasible", "cost", "unserved_kwh", "heat_kwh", "soc_kwh"}
    assert out["feasible"] is True
    assert round(out["cost"], 4) == 0.815
    assert len(out["heat_kwh"]["heat_pump"]) == 24
    assert len(out["soc_kwh"]) == 25


def test_plan_with_commands_from_a_fixed_start() -> None:
    result = run_module(
        "ven_edge",
        "plan",
        str(README_PROBLEM),
        "--commands",
        "--start",
        "2026-02-17T00:00:00+00:00",
    )
    assert result.returncode == 0, result.stderr
    commands = json.loads(result.stdout)["commands"]
    assert commands[0]["start"] == "2026-02-17T00:00:00+00:00"
    assert sum(c["duration_s"] for c in commands) == 24 * 3600
    assert {c["kind"] for c in commands} <= {"shed", "load_up", "normal"}
    assert all(c["reason"] for c in commands)


def test_bad_problem_names_the_key_and_fails(tmp_path: Path) -> None:
    data = json.loads(README_PROBLEM.read_text())
    data["sources"][0]["cop"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = run_module("ven_edge", "plan", str(bad))
    assert result.returncode == 1
    assert "sources[0].cop[0]: must be > 0" in result.stderr
    assert result.stdout == ""
    bad.write_text("{")
    result = run_module("ven_edge", "plan", str(bad))
    assert result.returncode == 1
    assert "not JSON" in result.stderr
    result = run_module("ven_edge", "plan", str(tmp_path / "missing.json"))
    assert result.returncode == 1
    assert "cannot read" in result.stderr


@pytest.mark.parametrize("strategy", ["percentile", "price"])
def test_plan_reads_standard_input_and_honours_the_strategy(strategy: str) -> None:
    """``percentile`` as in the configuration's plan.strategy; ``price`` is its older spelling."""
    result = run_module(
        "ven_edge",
        "plan",
        "-",
        "--commands",
        "--strategy",
        strategy,
        "--start",
        "2026-02-17T00:00:00-08:00",
        input=README_PROBLEM.read_text(),
    )
    assert result.returncode == 0, result.stderr
    commands = json.loads(result.stdout)["commands"]
    assert commands[0]["start"] == "2026-02-17T00:00:00-08:00"
    # Without advanced load up support the cheapest quartile becomes load up.
    assert {c["kind"] for c in commands} == {"shed", "normal", "load_up"}


def test_plan_help_offers_the_configuration_names() -> None:
    result = run_module("ven_edge", "plan", "--help")
    assert result.returncode == 0
    assert "{state,fraction,percentile}" in result.stdout

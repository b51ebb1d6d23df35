"""The price strategy's percentile: numpy's default definition, without numpy in the daemon."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import REPO_ROOT
from ven_edge.plan.commands import percentile

prices = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=300,
)


@given(prices, st.floats(min_value=0.0, max_value=100.0))
def test_percentile_matches_numpy_linear(values: list[float], q: float) -> None:
    expected = float(np.percentile(values, q))
    assert math.isclose(percentile(values, q), expected, rel_tol=1e-12, abs_tol=1e-9)


def test_exact_ranks_and_bounds() -> None:
    assert percentile([0.5, 0.1, 0.3, 0.2, 0.4], 25) == 0.2
    assert percentile([0.5, 0.1, 0.3, 0.2, 0.4], 75) == 0.4
    assert percentile([7.0], 50) == 7.0
    assert percentile([1.0, 2.0], 0) == 1.0
    assert percentile([1.0, 2.0], 100) == 2.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="0-100"):
        percentile([1.0], 101)


def test_percentile_strategy_runs_without_numpy() -> None:
    """The gateway's .deb does not depend on numpy; plan.strategy = "percentile" must work."""
    script = (
        "import sys; sys.modules['numpy'] = None\n"
        "from datetime import UTC, datetime\n"
        "from ven_edge.plan.commands import plan_to_commands\n"
        "from ven_edge.plan.problem import Problem\n"
        "from ven_edge.plan.scheduler import schedule\n"
        "p = Problem.from_json({'step_hours': 1.0, 'price': [0.1, 0.2, 0.3, 0.4],\n"
        "    'load_kwh': [0.5] * 4, 'soc_kwh': 5.0, 'soc_min_kwh': 1.0, 'soc_max_kwh': 10.0,\n"
        "    'sources': [{'name': 'hp', 'cop': 3.0, 'max_kwh': 1.5}]})\n"
        "cmds = plan_to_commands(schedule(p), p, datetime(2026, 1, 1, tzinfo=UTC),\n"
        "    strategy='price')\n"
        "print(cmds[-1].kind.label)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "shed"

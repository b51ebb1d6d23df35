"""``python -m hil.sim --tank MODEL[:DRAWS]`` serves the heater on the two-node tank."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hil.hpwh_model import load_model
from hil.sim import send_control
from hil.tank import MAX_STORAGE_C, Conditions
from tests.conftest import REPO_ROOT, run_module


async def test_tank_option_puts_the_product_model_behind_the_heater(tmp_path: Path) -> None:
    link = tmp_path / "heater"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hil.sim", "--link", str(link), "--fast",
        "--tank", "AOSmithHPTU80:doe-high",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        assert b"simulated heater on" in banner
        reply = await send_control(link, "state")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
    assert reply["ok"] is True
    thermal = reply["state"]["thermal"]
    model = load_model("AOSmithHPTU80")
    expected_capacity = model.heat_capacity_j_per_k / 3600 * (MAX_STORAGE_C - Conditions().inlet_c)
    assert thermal["capacity_wh"] == pytest.approx(expected_capacity)


def test_unknown_tank_is_a_usage_error(tmp_path: Path) -> None:
    result = run_module("hil.sim", "--link", str(tmp_path / "h"), "--tank", "Kettle:doe-high")
    assert result.returncode == 2
    assert "unknown HPWH model 'Kettle'" in result.stderr
    result = run_module("hil.sim", "--link", str(tmp_path / "h"), "--tank", "AOSmithHPTU50:rain")
    assert result.returncode == 2
    assert "unknown draw profile 'rain'" in result.stderr

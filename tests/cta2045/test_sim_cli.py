"""``python -m hil.sim`` and ``ven-edge cta2045 send`` as a lab engineer runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_module


def start_module(module: str, *args: str, ready: Path) -> subprocess.Popen[str]:
    """Start ``python -m MODULE ARGS`` from this tree; return once ``ready`` exists."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{module} did not start: {out} {err}")
        time.sleep(0.05)
    return proc


@pytest.fixture
def sim_link(tmp_path: Path) -> Iterator[Path]:
    link = tmp_path / "heater"
    proc = start_module("hil.sim", "--link", str(link), "--fast", ready=Path(f"{link}.ctl"))
    try:
        assert link.is_symlink()
        assert os.readlink(link).startswith("/dev/pts/")
        yield link
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert not link.exists()  # the simulator cleans up its link


def send(link: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = run_module("ven_edge", "cta2045", "send", "--fast", "--port", str(link), *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_send_shed_prints_outcome_and_state(sim_link: Path) -> None:
    code, report = send(sim_link, "shed", "600")
    assert code == 0
    outcome = report["outcome"]
    assert isinstance(outcome, dict)
    assert outcome["status"] == "ok"
    state = report["operational_state"]
    assert isinstance(state, dict)
    assert state["code"] in (2, 4)
    assert state["name"] in ("RUNNING_CURTAILED", "IDLE_CURTAILED")
    device = report["device"]
    assert isinstance(device, dict)
    assert device["supported_types"] == ["0801", "0802", "0803"]
    # Times are RFC 3339, readable by any JSON consumer.
    updated = datetime.fromisoformat(device["updated_at"])
    assert updated.tzinfo is not None
    assert "T" in device["link"]["last_message_at"]

    code, report = send(sim_link, "get-set-point")
    assert code == 0
    outcome = report["outcome"]
    assert isinstance(outcome, dict)
    assert outcome["data"]["set_point_1"] == 120


def test_send_reports_a_refusal_with_exit_1(sim_link: Path) -> None:
    control = run_module("hil.sim", "--link", str(sim_link), "--control", "override on")
    assert control.returncode == 0, control.stderr
    assert json.loads(control.stdout)["state"]["override"] is True
    code, report = send(sim_link, "load-up")
    assert code == 1
    outcome = report["outcome"]
    assert isinstance(outcome, dict)
    assert outcome["status"] == "app_nak"
    assert outcome["reason"] == 5
    assert outcome["reason_text"] == "CUSTOMER_OVERRIDE"
    state = report["operational_state"]
    assert isinstance(state, dict)
    assert state["code"] in (11, 12)


def test_send_without_a_port_exits_2(tmp_path: Path) -> None:
    result = run_module(
        "ven_edge",
        "cta2045",
        "send",
        "--port",
        str(tmp_path / "nothing"),
        "--connect-timeout",
        "0.5",
        "op-state",
    )
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert "cannot open serial port" in report["error"]


def test_control_without_a_simulator_fails_cleanly(tmp_path: Path) -> None:
    result = run_module("hil.sim", "--link", str(tmp_path / "none"), "--control", "state")
    assert result.returncode == 1
    assert "no simulator at" in result.stderr


def test_fast_simulator_acks_before_it_replies_as_seen_by_the_tap_cli(
    sim_link: Path, tmp_path: Path
) -> None:
    ucm_port = tmp_path / "ucm"
    tap = start_module("hil.tap", "--link", str(ucm_port), "--to", str(sim_link), ready=ucm_port)
    try:
        code, report = send(ucm_port, "op-state")
        assert code == 0, report
    finally:
        tap.send_signal(signal.SIGTERM)
        out, err = tap.communicate(timeout=20)
    assert tap.returncode == 1, err  # --fast keeps no quiet time: the tap reports it
    lines = out.splitlines()
    heater = [line.split(None, 2)[2] for line in lines if " S>U " in line]
    op_state_query = "08 01 00 02 12 00 d8 5f"
    assert any(op_state_query in line for line in lines)
    # Every heater reply comes after the heater's ACK: never "S>U ... before ACKing".
    assert heater[0] == "06 00"
    assert not [line for line in lines if "ack_not_first: S>U" in line]
    assert "quiet_time" in out

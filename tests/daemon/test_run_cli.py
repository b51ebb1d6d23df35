"""`ven-edge run`: configuration errors stop it before anything starts, with the key and fix."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_module


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "ven-edge.toml"
    cfg.write_text("[web]\nport = 99999\n[heater]\nheartbeat_s = 5000\n")
    result = run_module("ven_edge", "run", "--config", str(cfg), timeout=30)
    assert result.returncode == 2
    assert "web.port" in result.stderr
    assert "heater.heartbeat_s" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_module("ven_edge", "run", "--config", str(tmp_path / "nope.toml"), timeout=30)
    assert result.returncode == 2
    assert "nope.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_needs_a_config() -> None:
    result = run_module("ven_edge", "run", timeout=30)
    assert result.returncode == 2
    assert "--config" in result.stderr

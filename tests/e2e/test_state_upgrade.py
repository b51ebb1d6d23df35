"""A gateway upgraded in the middle of a utility event resumes the command from the state files
the previous release wrote (bare JSON documents, before the version envelope)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hil.heater import DrEvent
from tests.conftest import wait_for
from tests.e2e.harness import heater_on_pty, make_config, persist_signals, running_daemon
from ven_edge.daemon import PLAN_DOC, SIGNALS_DOC
from ven_edge.signals import SignalInterval

RESUME_LIMIT_S = 15.0  # generous: a loaded machine; the resume figure itself is in bench/


async def test_old_format_state_mid_event_resumes_the_shed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    event = SignalInterval(
        now - timedelta(minutes=30), now + timedelta(hours=1), "SIMPLE", (1,), 0, "ev-shed"
    )
    for run in ("before", "after"):
        (tmp_path / run).mkdir()
    async with heater_on_pty(tmp_path / "before") as sim:
        config = make_config(tmp_path, sim.path)
        persist_signals(config, event)
        async with running_daemon(config):
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, RESUME_LIMIT_S, "Shed")
    # The files as the previous release left them: the same documents, without the envelope.
    state = Path(config.state.dir)
    for name in (SIGNALS_DOC, PLAN_DOC):
        path = state / f"{name}.json"
        path.write_text(json.dumps(json.loads(path.read_text())["data"]))
    caplog.set_level("INFO", logger="ven_edge.store")
    async with heater_on_pty(tmp_path / "after") as sim:  # a heater that knows of no event
        assert sim.heater.event is DrEvent.NONE
        config = make_config(tmp_path, sim.path)
        async with running_daemon(config) as parts:
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, RESUME_LIMIT_S, "Shed resumed")
            current = parts.daemon.snapshot().events.current
            assert current is not None
            assert current.id == "ev-shed"
    assert "signals.json: migrated from version 0 to 1" in caplog.text
    assert "plan.json: migrated from version 0 to 1" in caplog.text
    assert "unusable" not in caplog.text

"""The link benchmark's bus section in miniature: the whole stack recovers from every fault."""

from __future__ import annotations

from bench.cta2045_link import FAULTS, LoadResult, run_on_bus
from hil import virtual_time


def test_bus_load_and_every_fault_recovery_on_virtual_time() -> None:
    run = virtual_time.run(run_on_bus(300))
    load = run["load"]
    assert isinstance(load, LoadResult)
    assert load.transactions >= 300
    assert load.command_latency
    assert load.command_failures == 0
    assert load.errors == []
    assert run["collisions"] == 0  # exact write timing: no two ends start together
    # Each fault was followed by a good read (run_on_bus waits for one, up to 120 s).
    assert [r.fault for r in run["recoveries"]] == [case.name for case in FAULTS]
    assert all(r.commissioned for r in run["recoveries"])

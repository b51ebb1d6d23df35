"""Start-up that fails stops what it started; a failing grid task is restarted, never fatal."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, run_module, wait_for
from ven_edge.clock import WallClock
from ven_edge.config import Config, parse_config
from ven_edge.daemon import Daemon, DaemonSettings, StartupError
from ven_edge.plan.rule_planner import plan_by_rules
from ven_edge.ports import GridLabels
from ven_edge.run import serve
from ven_edge.signals import SignalTimeline
from ven_edge.status_model import VtnHealth
from ven_edge.store import StateStore

from .stub_heater import StubHeater


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port on 127.0.0.1 another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def config_for(tmp_path: Path, *, webhook_port: int, web_port: int) -> Config:
    data: dict[str, Any] = {
        # No device there: the UCM session retries in the background, start-up goes on.
        "heater": {"port": str(tmp_path / "no-such-tty")},
        "state": {"dir": str(tmp_path / "state")},
        "web": {"enabled": True, "host": "127.0.0.1", "port": web_port},
        "vtn": {
            "url": f"http://127.0.0.1:{free_port()}/openadr3/3.1.0",
            "webhook": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": webhook_port,
                "public_url": f"http://127.0.0.1:{webhook_port}/oadr3/notify",
            },
        },
    }
    return parse_config(data, source="test", base_dir=tmp_path)


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_webhook_port_in_use_stops_everything_started(
    tmp_path: Path, occupied_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = config_for(tmp_path, webhook_port=occupied_port, web_port=free_port())
    heater = StubHeater()
    before = other_tasks()
    with pytest.raises(StartupError) as failure:
        await asyncio.wait_for(serve(config, heater=heater, stop=asyncio.Event()), 30)
    assert failure.value.part == "the webhook endpoint"
    assert str(failure.value).startswith("cannot start the webhook endpoint: ")
    assert str(occupied_port) in str(failure.value)
    assert heater.starts == 1
    assert not heater.open
    await asyncio.sleep(0)  # cancelled tasks finish on the next turn
    assert other_tasks() <= before  # no control, grid or report task left running
    assert "ven-edge stopped" in caplog.text


async def test_status_page_port_in_use_stops_everything_started(
    tmp_path: Path, occupied_port: int
) -> None:
    config = config_for(tmp_path, webhook_port=free_port(), web_port=occupied_port)
    heater = StubHeater()
    before = other_tasks()
    with pytest.raises(StartupError, match=f"cannot start the status page on port {occupied_port}"):
        await asyncio.wait_for(serve(config, heater=heater, stop=asyncio.Event()), 30)
    assert not heater.open
    await asyncio.sleep(0)
    assert other_tasks() <= before
    # The webhook endpoint had started: its port is free again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", config.vtn.webhook.port))


def test_run_exits_1_with_the_part_and_the_reason(tmp_path: Path, occupied_port: int) -> None:
    heater_port = tmp_path / "no-such-tty"
    state = tmp_path / "state"
    config = tmp_path / "ven-edge.toml"
    config.write_text(
        f'[heater]\nport = "{heater_port}"\n[state]\ndir = "{state}"\n'
        f'[web]\nenabled = false\n[vtn]\nurl = "http://127.0.0.1:{free_port()}/openadr3/3.1.0"\n'
        f'[vtn.webhook]\nenabled = true\nhost = "127.0.0.1"\nport = {occupied_port}\n'
        f'public_url = "http://127.0.0.1:{occupied_port}/oadr3/notify"\n'
    )
    result = run_module("ven_edge", "run", "--config", str(config), timeout=60)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert len(lines) == 1, result.stderr
    assert "cannot start the webhook endpoint:" in lines[0]
    assert str(occupied_port) in lines[0]
    assert "Traceback" not in result.stderr


class FlakyGrid:
    """A grid port whose run() fails ``failures`` times, then runs until cancelled."""

    def __init__(
        self, failures: list[BaseException], report_failure: Exception | None = None
    ) -> None:
        self.failures = failures
        self.runs = 0
        self.running = asyncio.Event()
        self.report_failure = report_failure
        self.report_calls = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def run(self) -> None:
        self.runs += 1
        if self.failures:
            raise self.failures.pop(0)
        self.running.set()
        await asyncio.Event().wait()

    def set_listener(self, callback: Any) -> None:
        pass

    def queue_reports(self, device: Any) -> None:
        self.report_calls += 1
        if self.report_failure is not None:
            raise self.report_failure

    def health(self) -> VtnHealth:
        return VtnHealth(ok=False, url=None)

    def labels(self) -> GridLabels:
        return GridLabels()


def daemon_with(grid: FlakyGrid, state: Path, settings: DaemonSettings | None = None) -> Daemon:
    return Daemon(
        heater=StubHeater(),
        grid=grid,
        planner=lambda inputs: plan_by_rules(inputs),
        store=StateStore(state),
        clock=WallClock(),
        settings=settings,
    )


async def test_grid_task_failures_are_logged_and_it_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("ven_edge.daemon.GRID_RESTART_BASE_S", 0.001)
    monkeypatch.setattr("ven_edge.daemon.GRID_RESTART_CAP_S", 0.002)
    boom = OverflowError("date value out of range")
    grid = FlakyGrid([boom, RecursionError("deep"), OverflowError("date value out of range")])
    daemon = daemon_with(grid, tmp_path)
    daemon.set_signals(SignalTimeline())
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="ven_edge.daemon"):
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(grid.running.wait(), 30)
        assert not task.done()  # the daemon never exits because the grid failed
        stop.set()
        await asyncio.wait_for(task, 30)
    assert grid.runs == 4
    tracebacks = [r for r in caplog.records if r.exc_info]
    # One traceback per distinct error; a repeat is a one-line warning.
    assert [str(r.exc_info[1]) for r in tracebacks if r.exc_info] == [
        "date value out of range",
        "deep",
    ]
    assert sum("grid task failed" in r.getMessage() for r in caplog.records) == 3


async def test_run_keeps_running_while_the_vtn_serves_an_event_that_crashes_the_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.oadr3.test_client_vtn import Utility, vtn_at
    from ven_edge.grid_port import VtnGridPort
    from ven_edge.oadr3.client import VtnClient

    fetch = VtnClient.fetch_events

    async def poisoned(self: VtnClient) -> list[Any]:
        events = await fetch(self)
        if any(e.get("eventName") == "poison" for e in events):
            raise OverflowError("date value out of range")
        return events

    monkeypatch.setattr(VtnClient, "fetch_events", poisoned)
    async with vtn_at(tmp_path) as vtn, Utility(vtn.base_url) as bl:
        await bl.event(0.5, eventName="poison")
        data: dict[str, Any] = {
            "heater": {"port": str(tmp_path / "no-such-tty")},
            "state": {"dir": str(tmp_path / "state")},
            "web": {"enabled": False},
            "vtn": {"url": vtn.base_url, "client_id": "ven_client", "client_secret": "999"},
        }
        config = parse_config(data, source="test", base_dir=tmp_path)
        stop = asyncio.Event()
        grids: list[VtnGridPort] = []

        async def started(parts: Any) -> None:
            grids.append(parts.grid)

        task = asyncio.create_task(serve(config, heater=StubHeater(), stop=stop, started=started))
        try:
            await wait_for(
                lambda: (
                    task.done() or (bool(grids) and grids[0].link.health.consecutive_failures >= 2)
                ),
                60,
                "two failed cycles",
            )
            assert not task.done()  # `ven-edge run` goes on, without the poisoned poll
            assert grids[0].health().last_error == "OverflowError: date value out of range"
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def test_report_queue_failures_never_end_the_daemon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    grid = FlakyGrid([], report_failure=OverflowError("date value out of range"))
    daemon = daemon_with(grid, tmp_path, DaemonSettings(report_tick_s=0.001))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        await wait_for(lambda: task.done() or grid.report_calls >= 3, 30, "report ticks")
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    tracebacks = [r for r in caplog.records if r.exc_info and "reports not queued" in r.msg]
    assert len(tracebacks) == 1


@pytest.mark.parametrize("freeze", [False, True])
async def test_the_daemon_process_freezes_its_start_up_heap(tmp_path: Path, freeze: bool) -> None:
    """Once started, ``ven-edge run`` exempts what start-up built from later full garbage
    collections (their walk of the whole heap was the longest event-loop step left); a host
    sharing the interpreter (the demo, a test run) keeps its heap as it is."""
    data: dict[str, Any] = {
        "heater": {"port": str(tmp_path / "no-such-tty")},
        "state": {"dir": str(tmp_path / "state")},
        "web": {"enabled": False},
    }
    config = parse_config(data, source="test", base_dir=tmp_path)
    stop = asyncio.Event()
    frozen: list[int] = []

    async def started(parts: Any) -> None:
        frozen.append(gc.get_freeze_count())
        stop.set()

    try:
        await asyncio.wait_for(
            serve(config, heater=StubHeater(), stop=stop, started=started, freeze_heap=freeze),
            60,
        )
    finally:
        gc.unfreeze()
    assert len(frozen) == 1
    assert (frozen[0] > 1000) is freeze


def test_ven_edge_run_freezes_the_heap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ven_edge.run as run

    asked: list[dict[str, Any]] = []

    async def fake_serve(config: Config, **options: Any) -> None:
        asked.append(options)

    monkeypatch.setattr(run, "serve", fake_serve)
    monkeypatch.setattr("ven_edge.logsetup.configure_logging", lambda level: None)
    path = tmp_path / "ven-edge.toml"
    path.write_text(f'[state]\ndir = "{tmp_path}"\n')
    assert run._handle(argparse.Namespace(config=str(path))) == 0
    assert asked == [{"freeze_heap": True}]


@pytest.mark.parametrize("yields", range(6))
async def test_stop_ends_the_daemon_when_the_heater_changes_at_the_same_moment(
    tmp_path: Path, yields: int
) -> None:
    """SIGTERM while the heater's state changes (it went away as the machine shut down): the
    control loop's wake-up and its cancellation arrive together, and the cancellation wins
    (``asyncio.wait_for`` of Python 3.11 would return the wake-up and drop the cancellation,
    leaving ``ven-edge run`` up for good)."""
    daemon = Daemon(
        heater=StubHeater(),
        grid=None,
        planner=plan_by_rules,
        store=StateStore(tmp_path),
        clock=WallClock(),
    )
    stop = asyncio.Event()
    running: list[bool] = []

    async def ready() -> None:
        running.append(True)

    task = asyncio.create_task(daemon.run(stop, ready=ready))
    await wait_for(lambda: bool(running), 30, "the daemon running")
    for _ in range(20):
        await asyncio.sleep(0)  # the control loop waits for its next wake-up
    stop.set()
    for _ in range(yields):
        await asyncio.sleep(0)
    daemon.heater_changed()
    done, _ = await asyncio.wait([task], timeout=30)
    if not done:
        task.cancel()
    assert done, "the daemon ignored stop"

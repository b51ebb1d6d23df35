"""``python -m hil.demo [--speed 60]`` (``make demo``): the whole system on this machine, on
loopback, in one process.

It lives with the bench, not in the gateway's package: it needs ``hil`` and ``vtn_lite``, which
the gateway's .deb does not ship (docs/architecture.md). It starts vtn_lite in demo mode (SQLite
in a temporary folder, 127.0.0.1 only, the well-known test credentials), imports the sample
price program and event (``sample_data/``), adds one utility shed event, serves the simulated
heater on a pty with the two-node tank, and runs the gateway with its status page, all on one
accelerated clock that starts an hour before the sample prices. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from hil.heater import COMM_TIMEOUT_S, HeaterConfig
from hil.hpwh_model import HpwhProduct
from hil.scenarios import heater_config_for

if TYPE_CHECKING:
    from vtn_lite.planner.settings import PlannerSettings

log = logging.getLogger(__name__)

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
SAMPLE_DATA: Final = REPO_ROOT / "sample_data"
PROGRAM_FILE: Final = "program_pricing.json"
EVENT_FILE: Final = "event_pricing.json"
PROGRAM_NAME: Final = "etou-dyn"
HEATER_MODEL: Final = "Rheem2020Prem50"
DRAWS: Final = "doe-medium"
# The sample event's first price interval (sample_data/SOURCES.md); the demo clock starts an
# hour earlier so that the first minutes show the gateway picking the prices up.
SAMPLE_START: Final = datetime(2026, 2, 17, 19, 0, tzinfo=UTC)
LEAD_IN: Final = timedelta(hours=1)
# The utility's shed event the demo adds (SIMPLE level 1), in plan time from the clock start.
SHED_OFFSET: Final = timedelta(hours=3, minutes=30)
SHED_LENGTH: Final = timedelta(hours=1)
#: Name prefix of the working folder made when --dir is not given.
TMP_PREFIX: Final = "ven-edge-demo-"
#: Simulated gateways besides the main one, so that the console shows a few VENs (hil/fleet.py).
DEMO_FLEET: Final = 3


#: The demo fleet's feeder: less than its heat pumps would draw together in a cheap hour.
DEMO_FEEDER_KW_PER_HEATER: Final = 0.3


def demo_planner(fleet: int, speed: float) -> PlannerSettings:
    """The fleet planner on the demo's small fleet (docs/fleet-planner.md): one feeder, the
    demo's prices, a plan every 15 minutes of demo time. The demo's own gateway is in no group:
    it plans alone, as the rest of the demo shows."""
    from vtn_lite.planner.settings import GroupSettings, PlannerSettings

    feeder = GroupSettings(
        "demo-feeder",
        (DEMO_FEEDER_KW_PER_HEATER * fleet,) * 24,
        vens=tuple(f"fleet-{i}" for i in range(1, fleet + 1)),
    )
    return PlannerSettings(
        program="fleet-planning",
        price_program=PROGRAM_NAME,
        interval=max(1.0, 900.0 / speed),
        groups=(feeder,),
    )


def demo_heater_config(model: HpwhProduct, speed: float) -> HeaterConfig:
    """The demo heater's thermostat: the model file's own (its compressor turn-on differential,
    17.8 °C on the Rheem files, not a 4 °C dead band), as in :mod:`hil.dayrun` and the
    benchmarks. The outside-communication watchdog counts simulated seconds while the UCM's
    heartbeat is a real-time link matter: it is scaled so that it still means "five real
    minutes without the gateway" (docs/cta2045.md §14)."""
    return heater_config_for(model, comm_timeout_s=COMM_TIMEOUT_S * speed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hil.demo",
        description=(
            "Run vtn_lite (demo mode, SQLite), the simulated heater on a pty with tank physics, "
            "and the gateway with its status page, all on 127.0.0.1 and one accelerated clock. "
            "Ctrl-C stops everything."
        ),
    )
    parser.add_argument(
        "--speed", type=float, default=60.0, help="clock speed-up (default 60: an hour a minute)"
    )
    parser.add_argument("--web-port", type=int, default=8080, help="status page port")
    parser.add_argument("--vtn-port", type=int, default=8081, help="vtn_lite port")
    parser.add_argument("--webhook-port", type=int, default=8082, help="gateway webhook port")
    parser.add_argument(
        "--dir", type=Path, default=None, help="working folder (default: a new temporary one)"
    )
    parser.add_argument(
        "--fleet",
        type=int,
        default=DEMO_FLEET,
        help=f"more simulated gateways for the operator console (default {DEMO_FLEET}; 0: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ven_edge.logsetup import configure_logging

    args = build_parser().parse_args(argv)
    if not 0 < args.speed <= 100_000:
        sys.stderr.write("demo: --speed must be between 0 and 100000\n")
        return 2
    if not 0 <= args.fleet <= 20:
        sys.stderr.write("demo: --fleet must be between 0 and 20\n")
        return 2
    if not (SAMPLE_DATA / EVENT_FILE).is_file():
        sys.stderr.write(f"demo: the sample data is missing ({SAMPLE_DATA / EVENT_FILE})\n")
        return 2
    handler = configure_logging("INFO")
    with contextlib.ExitStack() as cleanup:
        if args.dir is None:  # a folder of our own, removed when the demo stops
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=TMP_PREFIX)))
        else:  # the user's folder, kept for a look afterwards
            workdir = args.dir
            workdir.mkdir(parents=True, exist_ok=True)
        try:
            asyncio.run(
                run_demo(
                    workdir,
                    args.speed,
                    args.web_port,
                    args.vtn_port,
                    args.webhook_port,
                    log_handler=handler,
                    keeps_dir=args.dir is not None,
                    fleet=args.fleet,
                )
            )
        except OSError as exc:
            sys.stderr.write(f"demo: {exc}\n")
            return 1
    return 0


class DemoClockFormatter(logging.Formatter):
    """Stamp log lines with the demo's clock, as the status page is, instead of the wall clock.

    Wraps the formatter already installed, so the line format stays that of ``ven-edge run``.
    """

    def __init__(self, inner: logging.Formatter, now: Callable[[], float]) -> None:
        super().__init__()
        self._inner = inner
        self._now = now

    def format(self, record: logging.LogRecord) -> str:
        # A record is formatted as it is emitted, so the clock's present is the record's time.
        at = self._now()
        shifted = logging.makeLogRecord(record.__dict__)
        shifted.created = at
        shifted.msecs = (at - int(at)) * 1000
        return self._inner.format(shifted)


async def run_demo(
    workdir: Path,
    speed: float,
    web_port: int,
    vtn_port: int,
    webhook_port: int,
    *,
    stop: asyncio.Event | None = None,
    log_handler: logging.Handler | None = None,
    keeps_dir: bool = True,
    fleet: int = 0,
) -> None:
    from hil.clock import AcceleratedClock
    from hil.fleet import running_fleet
    from hil.scenarios import build_thermal_model
    from hil.sim import run_simulator
    from ven_edge.config import parse_config
    from ven_edge.grid_port import WEBHOOK_PATH
    from ven_edge.run import Parts, serve
    from vtn_lite.auth import Principal
    from vtn_lite.console.settings import ConsoleSettings
    from vtn_lite.prices import import_prices
    from vtn_lite.server import demo_config, running_vtn

    stop = stop or asyncio.Event()  # shared with the fleet, so Ctrl-C stops it too
    start = SAMPLE_START - LEAD_IN
    clock = AcceleratedClock(speed, start_epoch_s=start.timestamp())
    if log_handler is not None:
        inner = log_handler.formatter or logging.Formatter()
        log_handler.setFormatter(DemoClockFormatter(inner, clock.time))
    local_start = start.astimezone()
    midnight = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    tank = build_thermal_model(
        HEATER_MODEL, DRAWS, start_s=(local_start - midnight).total_seconds()
    )
    # The console counts requests this close together (in demo time) as one check-in: a poll
    # takes a few real tenths of a second, which the accelerated clock stretches.
    console = ConsoleSettings(checkin_merge=max(2.0, 2.0 * speed))
    vtn_config = demo_config(workdir, port=vtn_port, fleet=fleet, console=console)
    if fleet:
        vtn_config = replace(vtn_config, planner=demo_planner(fleet, speed))
    async with (
        running_vtn(vtn_config, clock=clock.time) as vtn,
        contextlib.AsyncExitStack() as fleet_stack,
    ):
        utility = Principal("demo-utility", "bl")
        imported = await import_prices(
            vtn.vtn,
            utility,
            [SAMPLE_DATA / PROGRAM_FILE, SAMPLE_DATA / EVENT_FILE],
            PROGRAM_NAME,
        )
        shed_start = start + SHED_OFFSET
        await vtn.vtn.create(
            utility,
            "EVENT",
            {
                "programID": imported.program_id,
                "eventName": "demo-peak-shed",
                "priority": 0,
                "intervalPeriod": {
                    "start": shed_start.isoformat().replace("+00:00", "Z"),
                    "duration": f"PT{int(SHED_LENGTH.total_seconds())}S",
                },
                "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
            },
        )
        heater_config = demo_heater_config(tank.tank.model, speed)
        async with run_simulator(
            workdir / "heater", thermal=tank, clock=clock.monotonic, heater_config=heater_config
        ) as sim:
            config = parse_config(
                {
                    "vtn": {
                        "url": vtn.base_url,
                        "client_id": "ven_client",
                        "client_secret": "999",
                        "poll_interval_s": 30,
                        "webhook": {
                            "enabled": True,
                            "host": "127.0.0.1",
                            "port": webhook_port,
                            "public_url": f"http://127.0.0.1:{webhook_port}{WEBHOOK_PATH}",
                        },
                    },
                    "heater": {
                        "port": str(sim.path),
                        "heartbeat_s": 60,
                        "poll_s": 2,
                        "model": str(SAMPLE_DATA / "hpwh_models" / f"{HEATER_MODEL}.json"),
                    },
                    "plan": {"step_minutes": 15},  # the default (state) strategy
                    "reports": {"cadence_s": 900},
                    "web": {"enabled": True, "host": "127.0.0.1", "port": web_port},
                    "state": {"dir": str(workdir / "state")},
                },
                source="demo",
                base_dir=workdir,
            )

            async def started(parts: Parts) -> None:
                if fleet:
                    await fleet_stack.enter_async_context(
                        running_fleet(
                            fleet,
                            vtn.base_url,
                            workdir / "fleet",
                            poll_interval_s=30,
                            report_cadence_s=900,
                            clock=clock,
                            stop=stop,
                        )
                    )
                _banner(parts, vtn.url, workdir, speed, shed_start, keeps_dir)

            await serve(config, clock=clock, stop=stop, started=started)
    sys.stdout.write("ven-edge demo stopped.\n")
    sys.stdout.flush()


def _banner(
    parts: Any, vtn_origin: str, workdir: Path, speed: float, shed_start: datetime, keeps_dir: bool
) -> None:
    from vtn_lite.api31 import BASE_31
    from vtn_lite.server import DEMO_CONSOLE_USERS

    vtn_url = f"{vtn_origin}{BASE_31}"
    name, password, _ = DEMO_CONSOLE_USERS[0]
    local = shed_start.astimezone()
    lines = [
        "",
        "ven-edge demo is running (Ctrl-C stops everything).",
        f"  Status page:  {parts.web_url}",
        f"  JSON status:  {parts.web_url}api/status",
        f"  VTN (demo):   {vtn_url}   (business logic: bl_client / 1001)",
        f"  VTN console:  {vtn_origin}/console/   ({name} / {password})",
        f"  Working dir:  {workdir}" + ("" if keeps_dir else "   (removed when the demo stops)"),
        f"  Clock:        {speed:g}x, starting {SAMPLE_START - LEAD_IN:%Y-%m-%d %H:%M} UTC",
        "Watch: the price chart fills in and the plan sheds the dearer hours;",
        f"       at {local:%H:%M} (page time) the utility's shed event starts:",
        "       'Saving energy: utility event until ...'.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())

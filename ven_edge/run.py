"""``ven-edge run --config FILE``: build the daemon from the configuration and serve until told.

SIGTERM (systemd stop) and SIGINT (Ctrl-C) end it cleanly: ``STOPPING=1``, tasks cancelled, the
status page closed, the serial port released. Configuration errors are printed with the key and
the fix (:class:`~ven_edge.config.ConfigError`) and exit with status 2 before anything starts. A
part that cannot start (a port in use) is logged as ``cannot start <part>: <reason>`` after what
had started is stopped again, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ven_edge.clock import Clock, WallClock
from ven_edge.clocksync import ClockSync, SystemClockSync
from ven_edge.config import Config, ConfigError, load_config
from ven_edge.daemon import Daemon, StartupError
from ven_edge.household import CompressorFirst, Household
from ven_edge.plan.rule_planner import RuleSettings
from ven_edge.ports import GridPort, HeaterPort
from ven_edge.redact import redact_text
from ven_edge.sdnotify import Notifier
from ven_edge.store import StateStore

if TYPE_CHECKING:
    from ven_edge.plan.commands import Strategy
    from ven_edge.plan.fleet_follow import FleetAwarePlanner

log = logging.getLogger(__name__)

EXIT_CONFIG = 2
EXIT_START = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the gateway daemon",
        description="Run the gateway: heater link, VTN client, control loop and status page.",
    )
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help="TOML configuration, e.g. /etc/ven-edge/ven-edge.toml",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"ven-edge: {exc}\n")
        return EXIT_CONFIG
    from ven_edge.logsetup import configure_logging

    configure_logging(config.log.level)
    share_the_interpreter_finely()
    try:
        asyncio.run(serve(config, freeze_heap=True))
    except StartupError as exc:
        log.error("%s", exc)
        return EXIT_START
    except OSError as exc:
        log.error("cannot start: %s", redact_text(str(exc)))
        return EXIT_START
    return 0


# plan.strategy in the configuration → ven_edge.plan.commands strategy names.
_STRATEGIES: dict[str, Strategy] = {
    "state": "state",
    "fraction": "fraction",
    "percentile": "price",
}
# Heat-pump figures assumed without a model file (a 50-gallon unit at DOE conditions, docs/hpwh.md).
DEFAULT_HP_KW = 1.2
DEFAULT_HP_COP = 3.0
DEFAULT_ELEMENT_KW = 4.5


#: Expected thermal draw per hour of the day (kWh) and the offset from UTC to that clock.
PlannerConfigDraw = tuple[tuple[float, ...], timedelta]


def household_for(config: Config) -> Household:
    """The household learner, told how much heat the configured heater makes per kWh: with a
    model file the compressor's input power and COP at the DOE test's air temperature
    (:class:`~ven_edge.household.CompressorFirst`), else a kWh of heat per kWh, the floor for
    any heater (docs/gateway.md, "Household draws")."""
    from ven_edge.plan.builder import DOE_AIR_C
    from ven_edge.plan.hpwh_model import HpwhModel, ModelError

    if config.heater.model is None:
        return Household()
    model = HpwhModel.load(config.heater.model)

    def cop(water_c: float) -> float:
        try:
            return model.cop(DOE_AIR_C, water_c)
        except ModelError:  # no input power in the map there: count a kWh of heat per kWh
            return 1.0

    def input_kw(water_c: float) -> float:
        return model.capacity_kw(DOE_AIR_C, water_c) / cop(water_c)

    return Household(heat=CompressorFirst(input_kw=input_kw, cop=cop, default_c=model.setpoint_c))


def planner_for(config: Config, draw: PlannerConfigDraw | None = None) -> FleetAwarePlanner:
    """The exact planner configured by ``[plan]`` (and ``heater.model``), following a fleet
    schedule when the VTN sends one (:mod:`ven_edge.plan.fleet_follow`), with the rule planner
    as the fallback when the problem cannot be built (capacity or stored energy unknown yet).
    ``draw`` is the household's expected thermal draw per hour of the day (24 kWh values) and
    the offset from UTC to that day's clock, when known."""
    from ven_edge.plan.builder import PlannerConfig
    from ven_edge.plan.exact_planner import ExactPlanner
    from ven_edge.plan.fleet_follow import FleetAwarePlanner
    from ven_edge.plan.hpwh_model import HpwhModel

    plan_cfg = config.plan
    heater = config.heater
    model = None if heater.model is None else HpwhModel.load(heater.model)
    capacity = plan_cfg.tank_capacity_kwh
    reserve = RuleSettings().reserve_fraction if not capacity else plan_cfg.reserve_kwh / capacity
    exact = ExactPlanner(
        PlannerConfig(
            step=timedelta(minutes=plan_cfg.step_minutes),
            horizon=timedelta(hours=plan_cfg.horizon_hours),
            reserve_fraction=min(1.0, reserve),
            capacity_kwh=capacity,
            hp_max_kw=None if model is not None else DEFAULT_HP_KW,
            hp_cop=None if model is not None else DEFAULT_HP_COP,
            element_kw=None if model is not None else DEFAULT_ELEMENT_KW,
            min_useful_c=plan_cfg.min_delivery_c,
            draw_kwh_by_hour=PlannerConfig().draw_kwh_by_hour if draw is None else draw[0],
            draw_utc_offset=timedelta(0) if draw is None else draw[1],
            # Storage above the set point needs the valve (docs/planner.md, "Storing above
            # the set point"); the planner asks for it only from a heater that takes it.
            advanced_load_up_c=heater.max_set_point_c if heater.mixing_valve else None,
        ),
        model,
        strategy=_STRATEGIES[plan_cfg.strategy],
        min_saving=plan_cfg.min_saving,
        min_shift_kwh=plan_cfg.min_shift_kwh,
    )
    rules = RuleSettings(
        step=timedelta(minutes=plan_cfg.step_minutes),
        horizon=timedelta(hours=plan_cfg.horizon_hours),
        reserve_fraction=min(1.0, reserve),
    )
    return FleetAwarePlanner(exact, rules)


#: How long a thread may keep the interpreter lock while another thread waits for it.
THREAD_SWITCH_INTERVAL_S = 0.001


def share_the_interpreter_finely() -> None:
    """Let the event loop take the interpreter lock back within a millisecond.

    The planner runs in a worker thread so that a long plan does not stop the loop, but the two
    share one interpreter lock: with Python's default 5 ms switch interval
    (``sys.setswitchinterval``) the loop waited 30–90 ms for it behind an 8,640-price plan, and
    at 1 ms 6–12 ms (``bench/ven.py stalls``). The daemon's other threads are idle, so the
    extra switches cost nothing measurable."""
    sys.setswitchinterval(THREAD_SWITCH_INTERVAL_S)


def freeze_startup_heap() -> None:
    """Exempt everything alive now from the cyclic garbage collector's full passes.

    What start-up built (modules, classes, the libraries' tables) lives as long as the process,
    yet a full collection walks all of it every time: tens of milliseconds on the event loop on a
    small board. ``gc.freeze()`` moves it to the permanent generation (Python docs, "gc.freeze"),
    so later passes walk only what the daemon allocates while it runs. Garbage from start-up is
    collected first so that it is not kept for good."""
    gc.collect()
    gc.freeze()


@dataclass
class Parts:
    """Everything :func:`serve` builds, exposed so the demo and tests can reach inside."""

    daemon: Daemon
    heater: HeaterPort
    grid: GridPort | None
    web_url: str | None = None


def build_heater(config: Config, store: StateStore | None = None) -> HeaterPort:
    from ven_edge.heater_port import UcmHeaterPort

    return UcmHeaterPort.from_config(
        config.heater, store=store, min_delivery_c=config.plan.min_delivery_c
    )


def build_grid(config: Config, store: StateStore, clock: Clock) -> GridPort | None:
    if config.vtn.url is None:
        log.warning("no [vtn] url configured: the heater runs on the persisted plan only")
        return None
    if config.vtn.protocol == "2.0b":
        # Only here: OpenADR 3 mode never imports the 2.0b stack (lxml).
        from ven_edge.oadr2b_port import build_oadr2b_grid

        return build_oadr2b_grid(config.vtn, store, clock.now, config.vtn.resource_name)
    from ven_edge.grid_port import WEBHOOK_PATH, VtnGridPort, vtn_settings
    from ven_edge.oadr3.client import VtnClient
    from ven_edge.oadr3.mqttpush import MqttPush

    client = VtnClient(vtn_settings(config.vtn), wall_clock=clock.now)
    hook = config.vtn.webhook
    webhook = callback_url = bind = None
    if hook.enabled:
        from ven_edge.oadr3.webhook import WebhookReceiver

        host = f"[{hook.host}]" if ":" in hook.host else hook.host
        webhook = WebhookReceiver()
        callback_url = hook.public_url or f"http://{host}:{hook.port}{WEBHOOK_PATH}"
        bind = (hook.host, hook.port)
    # MqttPush imports paho only when it connects: a VTN without MQTT costs nothing.
    vtn = config.vtn
    mqtt = None
    if vtn.mqtt:
        mqtt = MqttPush(
            ca_file=str(vtn.mqtt_ca_file) if vtn.mqtt_ca_file else client.settings.ca_file,
            client_cert=None if vtn.mqtt_cert_file is None else str(vtn.mqtt_cert_file),
            client_key=None if vtn.mqtt_key_file is None else str(vtn.mqtt_key_file),
        )
    return VtnGridPort(
        client,
        store,
        clock=clock.now,
        webhook=webhook,
        callback_url=callback_url,
        mqtt=mqtt,
        bind=bind,
        poll_s=config.vtn.poll_interval_s,
        report_cadence=timedelta(seconds=config.reports.cadence_s),
    )


async def serve(
    config: Config,
    *,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    heater: HeaterPort | None = None,
    started: Callable[[Parts], Awaitable[None]] | None = None,
    clock_sync: ClockSync | None = None,
    freeze_heap: bool = False,
) -> None:
    """Run the daemon for ``config`` until ``stop`` is set (or SIGTERM/SIGINT).

    ``clock_sync`` says whether the clock is synchronised; by default the system's answer for
    the wall clock, and always yes for a given (simulated) ``clock``. ``freeze_heap`` (the daemon
    process, not a host sharing its interpreter such as a test run) exempts what start-up built
    from later garbage collection passes (:func:`freeze_startup_heap`)."""
    if clock_sync is None and clock is None and config.clock.require_sync:
        clock_sync = SystemClockSync()
    clock = clock or WallClock()
    stop = stop or asyncio.Event()
    store = StateStore(config.state.dir)
    heater = heater or build_heater(config, store)
    grid = build_grid(config, store, clock)
    notifier = Notifier()
    status_notifier: Any = None
    if config.web.enabled:
        from ven_edge.web.app import StatusNotifier

        status_notifier = StatusNotifier()
    planner = planner_for(config)
    daemon = Daemon(
        heater=heater,
        grid=grid,
        planner=planner,
        household=household_for(config),
        store=store,
        clock=clock,
        notifier=notifier,
        on_status=None if status_notifier is None else status_notifier.notify,
        clock_sync=clock_sync,
    )
    parts = Parts(daemon=daemon, heater=heater, grid=grid)
    from ven_edge.grid_port import VtnGridPort

    if isinstance(grid, VtnGridPort):
        # Planning requests from the VTN are answered with what this planner knows.
        grid.link.planning = daemon.planning_source(planner.planning_inputs)
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as cleanup:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
                cleanup.callback(loop.remove_signal_handler, signum)

        async def ready() -> None:
            # Called by the daemon once its parts run; what starts here is stopped after the
            # daemon's parts (the page shows them to the end).
            if config.web.enabled:
                from ven_edge.web.app import create_app, start_web

                app = create_app(daemon.snapshot, notifier=status_notifier)
                host = config.web.host
                try:
                    runner, _ = await start_web(app, host, config.web.port)
                except OSError as exc:
                    raise StartupError(f"the status page on port {config.web.port}", exc) from exc
                cleanup.push_async_callback(runner.cleanup)
                port = runner.addresses[0][1]
                parts.web_url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
            if freeze_heap:
                freeze_startup_heap()
            if started is not None:
                await started(parts)

        await daemon.run(stop, ready=ready)

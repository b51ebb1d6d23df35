"""``ven-edge cta2045 send --port PATH COMMAND [ARGS]``: one command through the UCM session.

Opens the port (a real heater at ``/dev/ttyUSB0`` or the simulated one of ``python -m hil.sim``),
commissions it, runs the command, queries the operational state, and prints one JSON object:
``outcome`` (status ok / app_nak / link_nak / timeout / not_connected, reason, decoded reply
data), ``operational_state`` (code and name) and the ``device`` model. Exit status 0 when the
command succeeded, 1 when the heater refused it or did not answer it, 2 when the port could not be
used at all or the heater did not answer commissioning (given up after the first unanswered
type query, about 2 s). Start-up End Shed is skipped so that ``send`` never cancels a running
event by itself. Before closing, the link ACK of the last reply goes out (else the heater sends
that reply again, docs/cta2045.md §4).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_NO_PORT = 2

# name → (help, argument names and types)
_COMMANDS: dict[str, tuple[str, tuple[tuple[str, type], ...]]] = {
    "shed": ("Shed, optionally for SECONDS", (("seconds?", float),)),
    "end-shed": ("End Shed / run normal", ()),
    "load-up": ("Load Up, optionally for SECONDS", (("seconds?", float),)),
    "critical-peak": ("Critical Peak event, optionally for SECONDS", (("seconds?", float),)),
    "grid-emergency": ("Grid Emergency, optionally for SECONDS", (("seconds?", float),)),
    "advanced-load-up": (
        "store WH above normal within SECONDS",
        (("wh", float), ("seconds", float)),
    ),
    "power-level": ("Request for Power Level, PERCENT of rating", (("percent", float),)),
    "present-price": ("Present Relative Price, RATIO to normal", (("ratio", float),)),
    "next-price": ("Next Period Relative Price, RATIO to normal", (("ratio", float),)),
    "outside-comm": ("Outside Communication = good (the heartbeat)", ()),
    "time-sync": ("Simple Time Sync from this machine's clock", ()),
    "op-state": ("Operational State Query", ()),
    "device-info": ("Get Device Information", ()),
    "max-payload": ("query the maximum payload", ()),
    "get-set-point": ("Get Set Point", ()),
    "set-set-point": ("Set Set Point to CELSIUS (sent in whole °F)", (("celsius", float),)),
    "present-temperature": ("Get Present Temperature", ()),
    "commodity": ("Get Commodity Read, all codes or CODE", (("code?", int),)),
    "set-utc-time": ("Set UTC Time from this machine's clock", ()),
}


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser(
        "send",
        help="send one command to a heater through the UCM session; print JSON",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="no tMA/tAR delays and short timeouts (for the simulator started with --fast)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=15.0,
        metavar="S",
        help="give up when the port is not open and commissioned within S seconds (default 15)",
    )
    commands = parser.add_subparsers(dest="send_command", metavar="COMMAND", required=True)
    for name, (text, params) in _COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text)
        for pname, ptype in params:
            optional = pname.endswith("?")
            sub.add_argument(
                pname.rstrip("?"), type=ptype, nargs="?" if optional else None, default=None
            )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    status, report = asyncio.run(_run(args))
    sys.stdout.write(json.dumps(report, indent=2, default=_json_default) + "\n")
    return status


def _json_default(value: object) -> str:
    """Times as RFC 3339 (``2026-01-14T16:30:00+00:00``), anything else as its text."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _call(args: argparse.Namespace, ucm: Any) -> Awaitable[Any]:
    """The session coroutine for the parsed command."""
    name = args.send_command
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "shed": lambda: ucm.shed(args.seconds),
        "end-shed": lambda: ucm.end_shed(),
        "load-up": lambda: ucm.load_up(args.seconds),
        "critical-peak": lambda: ucm.critical_peak(args.seconds),
        "grid-emergency": lambda: ucm.grid_emergency(args.seconds),
        "advanced-load-up": lambda: ucm.advanced_load_up(args.wh, args.seconds),
        "power-level": lambda: ucm.power_level(args.percent),
        "present-price": lambda: ucm.present_relative_price(args.ratio),
        "next-price": lambda: ucm.next_relative_price(args.ratio),
        "outside-comm": lambda: ucm.outside_comm(),
        "time-sync": lambda: ucm.time_sync(),
        "op-state": lambda: ucm.operational_state(),
        "device-info": lambda: ucm.device_information(),
        "max-payload": lambda: ucm.max_payload(),
        "get-set-point": lambda: ucm.get_set_point(),
        "set-set-point": lambda: ucm.set_set_point(args.celsius),
        "present-temperature": lambda: ucm.present_temperature(),
        "commodity": lambda: ucm.commodity_read(args.code),
        "set-utc-time": lambda: ucm.set_utc_time(),
    }
    return calls[name]()


async def _run(args: argparse.Namespace, opener: Any = None) -> tuple[int, dict[str, Any]]:
    """Run the command; ``opener`` replaces :func:`~ven_edge.cta2045.transport.open_serial`."""
    from ven_edge.cta2045.encodings import OperationalState
    from ven_edge.cta2045.link import LinkTimers
    from ven_edge.cta2045.transport import open_serial
    from ven_edge.cta2045.ucm import UcmConfig, UcmSession

    config = UcmConfig(
        port=args.port,
        timers=LinkTimers.fast() if args.fast else LinkTimers(),
        heartbeat_s=0,
        poll_s=0,
        end_shed_on_start=False,
    )
    ucm = UcmSession(config, opener=opener or open_serial)
    await ucm.start()
    try:
        ready = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.connect_timeout):
                ready = await ucm.wait_commissioning()
        if not ready:
            snap = ucm.snapshot
            if snap.link.connected:
                error = f"heater on {args.port} did not answer commissioning"
            else:
                error = snap.link.last_error or f"port {args.port} could not be opened"
            return EXIT_NO_PORT, {"error": error, "port": args.port}
        try:
            outcome = await _call(args, ucm)
        except ValueError as exc:  # a value the message cannot carry (e.g. 150 %)
            return EXIT_REFUSED, {"error": str(exc)}
        if args.send_command != "op-state":
            await ucm.operational_state()
        snap = ucm.snapshot
    finally:
        await ucm.stop()
    state = snap.operational_state
    device = dataclasses.asdict(snap)
    device["supported_types"] = sorted(f"{t:04X}" for t in snap.supported_types)
    device["unsupported_types"] = sorted(f"{t:04X}" for t in snap.unsupported_types)
    report = {
        "outcome": outcome.to_json(),
        "operational_state": {
            "code": state,
            "name": None if state is None else _state_name(OperationalState, state),
        },
        "device": device,
    }
    return (EXIT_OK if outcome.ok else EXIT_REFUSED), report


def _state_name(states: type[Any], code: int) -> str:
    try:
        return str(states(code).name)
    except ValueError:
        return f"UNKNOWN_{code}"

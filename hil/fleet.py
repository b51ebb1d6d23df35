"""``python -m hil.fleet --vens N --vtn URL``: N gateways against one VTN, in one process.

Each member is the real ``ven_edge`` daemon (:func:`ven_edge.run.serve`) with its own simulated
heater on its own pty, its own state folder and status page, registered as VEN ``fleet-<i>``
with client id ``<prefix><i>``. ``vtn-lite serve --demo --fleet N`` (and ``make demo``) define
those clients with the demo secret; against another VTN give ``--client-prefix`` and
``--secret-stdin`` (docs/console.md "A fleet to watch").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.clock import AcceleratedClock
from hil.sim import Simulator, run_simulator
from ven_edge.config import parse_config
from ven_edge.run import Parts, serve

log = logging.getLogger(__name__)

#: The demo VTN's fleet clients (vtn_lite.server.fleet_clients): fleet-1 ... with this secret.
DEMO_PREFIX = "fleet-"
DEMO_SECRET = "fleet-demo"
MAX_VENS = 50
START_LIMIT_S = 60.0


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    name: str
    client_id: str
    sim: Simulator
    parts: Parts

    @property
    def web_url(self) -> str:
        assert self.parts.web_url is not None
        return self.parts.web_url


def free_port(host: str = "127.0.0.1") -> int:
    # The gateway's configuration wants a real port for its status page, not 0.
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def member_config(
    index: int,
    workdir: Path,
    heater_path: Path,
    vtn_url: str,
    *,
    client_id: str,
    secret: str,
    poll_interval_s: float,
    report_cadence_s: float,
) -> Any:
    home = workdir / str(index)
    return parse_config(
        {
            "vtn": {
                "url": vtn_url,
                "client_id": client_id,
                "client_secret": secret,
                "ven_name": f"fleet-{index}",
                "poll_interval_s": poll_interval_s,
            },
            "heater": {"port": str(heater_path), "heartbeat_s": 60, "poll_s": 2},
            "reports": {"cadence_s": report_cadence_s},
            "web": {"enabled": True, "host": "127.0.0.1", "port": free_port()},
            "state": {"dir": str(home / "state")},
            # A simulated fleet on a lab machine: no NTP requirement (docs/gateway.md).
            "clock": {"require_sync": False},
        },
        source=f"fleet member {index}",
        base_dir=home,
    )


@contextlib.asynccontextmanager
async def running_fleet(
    count: int,
    vtn_url: str,
    workdir: Path,
    *,
    client_prefix: str = DEMO_PREFIX,
    secret: str = DEMO_SECRET,
    poll_interval_s: float = 10.0,
    report_cadence_s: float = 60.0,
    clock: AcceleratedClock | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[list[Member]]:
    """``count`` gateways, each on a simulated heater of its own, until the block ends."""
    if not 1 <= count <= MAX_VENS:
        raise ValueError(f"a fleet has 1 to {MAX_VENS} VENs, not {count}")
    stop = stop or asyncio.Event()
    sim_clock = clock.monotonic if clock is not None else None
    async with contextlib.AsyncExitStack() as stack:
        tasks: list[asyncio.Task[None]] = []
        members: list[Member] = []
        try:
            for index in range(1, count + 1):
                kwargs: dict[str, Any] = {} if sim_clock is None else {"clock": sim_clock}
                (workdir / str(index)).mkdir(parents=True, exist_ok=True)
                sim = await stack.enter_async_context(
                    run_simulator(workdir / str(index) / "heater", **kwargs)
                )
                config = member_config(
                    index,
                    workdir,
                    sim.path,
                    vtn_url,
                    client_id=f"{client_prefix}{index}",
                    secret=secret,
                    poll_interval_s=poll_interval_s,
                    report_cadence_s=report_cadence_s,
                )
                ready: asyncio.Future[Parts] = asyncio.get_running_loop().create_future()

                async def started(parts: Parts, ready: asyncio.Future[Parts] = ready) -> None:
                    ready.set_result(parts)

                task = asyncio.create_task(serve(config, clock=clock, stop=stop, started=started))
                tasks.append(task)
                waiting: set[asyncio.Future[Any]] = {task, ready}
                done, _ = await asyncio.wait(
                    waiting, timeout=START_LIMIT_S, return_when="FIRST_COMPLETED"
                )
                if task in done:
                    task.result()  # raises what went wrong
                if ready not in done:
                    raise TimeoutError(f"fleet member {index} did not start")
                members.append(
                    Member(index, f"fleet-{index}", f"{client_prefix}{index}", sim, ready.result())
                )
            yield members
        finally:
            stop.set()
            if tasks:
                await asyncio.wait(tasks, timeout=START_LIMIT_S)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hil.fleet",
        description="Run N ven-edge gateways, each with a simulated heater on its own pty, "
        "against one VTN (default credentials: the demo VTN's fleet clients).",
    )
    parser.add_argument("--vens", type=int, default=3, help=f"how many (1-{MAX_VENS})")
    parser.add_argument("--vtn", required=True, help="the VTN's OpenADR 3.1.0 base URL")
    parser.add_argument("--client-prefix", default=DEMO_PREFIX, help="client ids: PREFIX1 ...")
    parser.add_argument(
        "--secret-stdin",
        action="store_true",
        help="read the shared client secret from standard input (default: the demo secret)",
    )
    parser.add_argument("--poll", type=float, default=10.0, help="poll interval, s (5-3600)")
    parser.add_argument("--dir", type=Path, default=None, help="working folder (default: temp)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ven_edge.logsetup import configure_logging

    args = build_parser().parse_args(argv)
    if not 1 <= args.vens <= MAX_VENS:
        sys.stderr.write(f"fleet: --vens must be 1 to {MAX_VENS}\n")
        return 2
    secret = DEMO_SECRET
    if args.secret_stdin:
        secret = sys.stdin.readline().rstrip("\n")
        if not secret:
            sys.stderr.write("fleet: empty secret on standard input\n")
            return 2
    configure_logging("INFO")
    with contextlib.ExitStack() as cleanup:
        workdir = args.dir or Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        try:
            asyncio.run(_run(args, secret, workdir))
        except (OSError, ValueError, TimeoutError) as exc:
            sys.stderr.write(f"fleet: {exc}\n")
            return 1
    return 0


async def _run(args: argparse.Namespace, secret: str, workdir: Path) -> None:
    stop = asyncio.Event()
    async with running_fleet(
        args.vens,
        args.vtn,
        workdir,
        client_prefix=args.client_prefix,
        secret=secret,
        poll_interval_s=args.poll,
        stop=stop,
    ) as members:
        for member in members:
            sys.stdout.write(f"{member.name} ({member.client_id}): {member.web_url}\n")
        sys.stdout.flush()
        await stop.wait()


if __name__ == "__main__":
    sys.exit(main())

"""``vtn-lite plan --config FILE [--dry-run]``: plan the fleet once (docs/fleet-planner.md).

Straight on the VTN's database, like the offline price import: the schedules are written as a
running server would write them, but no server is involved, so no webhook or MQTT notification
goes out; the VENs see them when they poll. ``--dry-run`` writes nothing and prints each group's
planned aggregate against its limit, per quarter hour.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any, TextIO

from vtn_lite.config import ConfigError, load_config
from vtn_lite.planner.job import PlanOutcome


def register(subparsers: Any) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="plan the fleet once and publish the schedules (needs scipy)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("--config", type=Path, required=True, help="the VTN's configuration")
    plan.add_argument(
        "--dry-run",
        action="store_true",
        help="print each group's planned aggregate per quarter hour; publish nothing",
    )
    plan.set_defaults(handler=_plan)


def _plan(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if config.planner is None:
        raise ConfigError(f"{args.config} has no [planner] table (or it says enabled = false)")
    if importlib.util.find_spec("scipy") is None:
        from vtn_lite.fleet.model import PlannerUnavailable

        print(f"vtn-lite: {PlannerUnavailable()}", file=sys.stderr)
        return 1
    if config.database == ":memory:":
        print("vtn-lite: the configuration uses :memory:, nothing to plan from", file=sys.stderr)
        return 1
    outcome = asyncio.run(_run(config.database, config.planner, args.dry_run))
    print_outcome(outcome, sys.stdout, steps=args.dry_run)
    return 1 if outcome.problem and outcome.problem != "no VEN to plan" else 0


async def _run(database: str, settings: Any, dry_run: bool) -> PlanOutcome:
    from vtn_lite.planner.job import PlannerService
    from vtn_lite.service import Vtn
    from vtn_lite.storage import open_storage

    store = open_storage(database)
    await store.open()
    try:
        vtn = Vtn(store)
        await vtn.refresh_derived()
        service = PlannerService(vtn, settings)
        await service.prepare(create=not dry_run)
        return await service.plan(dry_run=dry_run)
    finally:
        await store.close()


def print_outcome(outcome: PlanOutcome, out: TextIO, *, steps: bool) -> None:
    out.write(f"plan from {outcome.start.isoformat()}: {outcome.published} schedules published\n")
    if outcome.problem:
        out.write(f"  {outcome.problem}\n")
    for name, since in outcome.stale.items():
        out.write(f"  VEN {name}: not planned, last inputs at {since.isoformat()} too old\n")
    for group in outcome.groups:
        if not group.vens:
            state = "no VEN with fresh inputs"
        elif group.feasible:
            state = "feasible"
        else:
            least = group.min_feasible_limit_kw
            state = "INFEASIBLE, smallest feasible limit " + (
                "unknown" if least is None else f"{least:.2f} kW"
            )
        out.write(
            f"group {group.name}: {len(group.vens)} VENs, limit {max(group.limit_kw):.2f} kW, "
            f"planned peak {group.peak_kw:.2f} kW, {state}\n"
        )
        if steps and group.aggregate_kw:
            for k, (planned, limit) in enumerate(
                zip(group.aggregate_kw, group.limit_kw, strict=True)
            ):
                minutes = k * 15
                out.write(
                    f"  +{minutes // 60:02d}:{minutes % 60:02d}  {planned:8.3f}  {limit:8.3f}\n"
                )

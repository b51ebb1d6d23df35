"""``ven-edge plan PROBLEM.json [--commands]``: solve a problem file and print the plan JSON."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ven_edge.plan.commands import Strategy

#: ``--strategy`` names, as in the configuration's ``plan.strategy``, mapped to the planner's own
#: names. ``price`` is the earlier spelling of ``percentile`` and still accepted.
STRATEGY_NAMES: dict[str, Strategy] = {
    "state": "state",
    "fraction": "fraction",
    "percentile": "price",
    "price": "price",
}

#: Largest problem file accepted (a week at 5-minute steps with two sources is ~200 KiB).
MAX_PROBLEM_BYTES = 4 << 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="plan water heating at least cost for a problem file",
        description="Solve a planning problem (JSON, see docs/planner.md) and print the plan.",
    )
    parser.add_argument("problem", type=Path, help="problem JSON file, or - for standard input")
    parser.add_argument("--commands", action="store_true", help="add the CTA-2045 command timeline")
    parser.add_argument(
        "--strategy",
        choices=STRATEGY_NAMES,
        default="state",
        metavar="{state,fraction,percentile}",
        help="how the plan becomes commands, as plan.strategy in the configuration "
        "(default: state; 'price' is accepted for percentile)",
    )
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="start of the first interval, ISO 8601 with offset (default: now, UTC)",
    )
    parser.add_argument(
        "--advanced-load-up",
        action="store_true",
        help="the device supports advanced load up (CTA-2045-B)",
    )
    parser.set_defaults(handler=_run)


def _error(message: str) -> None:
    sys.stderr.write(f"ven-edge plan: {message}\n")


def _run(args: argparse.Namespace) -> int:
    from ven_edge.plan.commands import plan_to_commands
    from ven_edge.plan.problem import Problem, ProblemError
    from ven_edge.plan.scheduler import schedule

    try:
        if str(args.problem) == "-":
            text = sys.stdin.read(MAX_PROBLEM_BYTES + 1)
        else:
            with args.problem.open(encoding="utf-8") as f:
                text = f.read(MAX_PROBLEM_BYTES + 1)
    except OSError as exc:
        _error(f"cannot read {args.problem}: {exc.strerror}")
        return 1
    if len(text) > MAX_PROBLEM_BYTES:
        _error(f"{args.problem} is larger than {MAX_PROBLEM_BYTES} bytes")
        return 1
    try:
        problem = Problem.from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        _error(f"{args.problem}: not JSON: {exc}")
        return 1
    except ProblemError as exc:
        _error(f"{args.problem}: {exc}")
        return 1
    plan = schedule(problem)
    out = plan.to_json()
    if args.commands:
        start = args.start or datetime.now(UTC).replace(second=0, microsecond=0)
        if start.tzinfo is None:
            _error("--start needs a UTC offset")
            return 2
        commands = plan_to_commands(
            plan,
            problem,
            start,
            strategy=STRATEGY_NAMES[args.strategy],
            supports_advanced_load_up=args.advanced_load_up,
        )
        out["commands"] = [c.to_json() for c in commands]
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0

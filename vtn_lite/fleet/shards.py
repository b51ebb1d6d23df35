"""The heaters' own problems at a price adder, solved by the exact scheduler: in this process or
split over worker processes that keep their share of the heaters between passes.

A pass sends each worker only the price adder (n floats) and gets back its heaters' heat
(H x S x n floats); the heaters' problems cross the process boundary once. This is also the
shape of a plan spread over several machines (docs/fleet-planner.md, "Across machines"): the
coordinator broadcasts the adder and sums what comes back.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from dataclasses import fields
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from ven_edge.plan.problem import Plan, Problem
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.arrays import Array

#: Fewest heaters worth a process of their own: a pass over 500 takes about 0.1 s, a process
#: about as long to start.
MIN_SHARD = 500
_PROBLEM_FIELDS = tuple(f.name for f in fields(Problem))


def at_price(problem: Problem, price: tuple[float, ...]) -> Problem:
    """``problem`` with another price series of the same length, not checked again: a pass
    builds tens of thousands of these, and only the (finite) price differs from a problem that
    was checked when it was made."""
    clone = object.__new__(Problem)
    for name in _PROBLEM_FIELDS:
        object.__setattr__(clone, name, getattr(problem, name))
    object.__setattr__(clone, "price", price)
    return clone


def heat_of(plans: Sequence[Plan], width: int, n: int) -> Array:
    """Heat (H, width, n) of the plans, sources in the problems' order (padded with zeros)."""
    heat = np.zeros((len(plans), width, n))
    for i, plan in enumerate(plans):
        for s, row in enumerate(plan.heat_kwh.values()):
            heat[i, s] = row
    return heat


def solve_at(problems: Sequence[Problem], prices: Array, width: int) -> Array:
    """Heat of every heater's optimum at its own row of ``prices`` (H, n)."""
    plans = [
        schedule(at_price(p, tuple(row))) for p, row in zip(problems, prices.tolist(), strict=True)
    ]
    return heat_of(plans, width, prices.shape[1])


class Shards:
    """``problems`` split into ``workers`` contiguous shards (1: no process at all); each heater
    ``i`` pays ``price + lam + eps[i]``."""

    def __init__(
        self,
        problems: Sequence[Problem],
        eps: Array,
        width: int,
        workers: int = 1,
        *,
        min_shard: int = MIN_SHARD,
    ) -> None:
        self.problems = list(problems)
        self.eps = eps
        self.width = width
        count = len(self.problems)
        workers = max(1, min(workers, count // max(min_shard, 1)))
        self.bounds = np.linspace(0, count, workers + 1).astype(int)
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        if workers > 1:
            ctx = multiprocessing.get_context("spawn")
            for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(
                    target=_shard_main,
                    args=(theirs, self.problems[a:b], eps[a:b], width),
                    daemon=True,
                )
                proc.start()
                theirs.close()
                self._conns.append(ours)
                self._procs.append(proc)

    def run(self, base: Array) -> Array:
        """Heat (H, S, n) of every heater's optimum at ``base`` (price + adder) + its eps."""
        if not self._conns:
            return solve_at(self.problems, base + self.eps, self.width)
        for conn in self._conns:
            conn.send(base)
        return np.concatenate([conn.recv() for conn in self._conns])

    def close(self) -> None:
        for conn in self._conns:
            conn.send(None)
            conn.close()
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        self._conns.clear()
        self._procs.clear()

    def __enter__(self) -> Shards:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shard_main(conn: Connection, problems: list[Problem], eps: Array, width: int) -> None:
    while True:
        base = conn.recv()
        if base is None:
            return
        conn.send(solve_at(problems, base + eps, width))

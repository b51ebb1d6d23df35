"""The fleet planner's job: collect the VENs' planning inputs, plan every group with the
solver (:func:`vtn_lite.fleet.solve.plan_fleet`) off the event loop, publish the schedules
(docs/fleet-planner.md, "Inputs and schedules").

:class:`PlannerService` reads each planning report before it is stored (a report that cannot be
planned with is refused with 400; the VEN's last good inputs stay), keeps the last good inputs
per VEN as reports are stored, and plans every ``interval`` seconds. A VEN whose inputs are
older than ``stale_after`` is not planned. An infeasible group is logged with its smallest
feasible limit and gets nothing new: publishing at a higher limit would break the one the
operator set, silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ven_edge.oadr3 import timefmt
from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.eventparse import parse_event
from ven_edge.oadr3.planning import STEP, PlanningReportError
from ven_edge.oadr3.timeline import TimelineBuilder
from ven_edge.plan.builder import BuildError, resample_prices
from ven_edge.plan.problem import ProblemError
from vtn_lite.auth import Principal
from vtn_lite.errors import ApiError, bad_request
from vtn_lite.planner import publish
from vtn_lite.planner.inputs import PLAN_STEPS, InputBook, quarter_hour, to_problem
from vtn_lite.planner.settings import GroupSettings, PlannerSettings
from vtn_lite.service import Vtn
from vtn_lite.storage import Query, StoredObject

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GroupView:
    """One group's outcome of a plan, for the log, the console and ``vtn-lite plan``."""

    name: str
    vens: tuple[str, ...]
    limit_kw: tuple[float, ...]
    aggregate_kw: tuple[float, ...] = ()
    feasible: bool = True
    min_feasible_limit_kw: float | None = None
    method: str = ""
    published: bool = False

    @property
    def peak_kw(self) -> float:
        return max(self.aggregate_kw, default=0.0)


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """What one run of the planner did."""

    at: datetime
    start: datetime
    groups: tuple[GroupView, ...] = ()
    #: VEN name -> when its last good (now stale) inputs arrived.
    stale: Mapping[str, datetime] = field(default_factory=dict)
    #: VENs with fresh inputs that no group names.
    ungrouped: tuple[str, ...] = ()
    published: int = 0
    #: Why nothing was planned (no scipy, no planning program), else None.
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class _Ven:
    id: str
    name: str
    client_id: str | None
    targets: tuple[str, ...]


def _received(body: Mapping[str, Any], default: float) -> float:
    text = body.get("modificationDateTime")
    try:
        return timefmt.parse_datetime(str(text)).timestamp() if text else default
    except timefmt.TimeFormatError:
        return default


class PlannerService:
    """The planner of one VTN (one worker: docs/fleet-planner.md)."""

    def __init__(
        self, vtn: Vtn, settings: PlannerSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.vtn = vtn
        self.settings = settings
        self.clock = clock
        self.book = InputBook()
        self.program_id: str | None = None
        self.request_id: str | None = None
        self.last: PlanOutcome | None = None
        #: VEN name -> its latest planning report's id: only that one is kept.
        self._reports: dict[str, StoredObject] = {}
        self._left_out: set[str] = set()

    # -- inputs ------------------------------------------------------------------------------

    def install(self) -> None:
        """Read planning reports as the API receives them."""
        self.vtn.report_checks.append(self._check)
        self.vtn.listeners.append(self._stored)

    async def prepare(self, *, create: bool = True) -> None:
        """Find (or create) the planning program and its request, and read the planning
        reports already stored."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        if create:
            self.program_id = await publish.ensure_program(self.vtn, self.settings.program)
            self.request_id = await publish.ensure_request(self.vtn, self.program_id, now)
        else:
            self.program_id = await publish.find_program(self.vtn, self.settings.program)
            self.request_id = (
                None
                if self.program_id is None
                else await publish.find_event(self.vtn, self.program_id, publish.REQUEST_NAME)
            )
        if self.request_id is None:
            return
        names = {v.client_id: v.name for v in await self._vens()}
        reports = await self.vtn.store.search(
            Query(kind="REPORT", event_id=self.request_id, limit=publish.ALL)
        )
        for stored in reports:
            name = names.get(stored.client_id)
            if name is None:
                continue
            body = stored.body
            await self._keep_only(name, stored)
            try:
                inputs = self.book.check(name, body, self.clock())
            except PlanningReportError:
                continue
            self.book.accept(name, inputs, _received(body, self.clock()))

    async def _keep_only(self, name: str, stored: StoredObject) -> None:
        """Delete the VEN's previous planning report: a day brings 96 of about 20 kB per VEN,
        and only the latest is planned with (docs/fleet-planner.md, "The planning report")."""
        previous = self._reports.get(name)
        self._reports[name] = stored
        if previous is None or previous.id == stored.id or previous.client_id is None:
            return
        try:
            # As the VEN that wrote it: only it may write its reports (Definition "Object
            # Privacy"); subscribers hear of the deletion as of any other.
            await self.vtn.delete(Principal(previous.client_id, "ven"), "REPORT", previous.id)
        except ApiError as exc:  # already gone
            log.debug("superseded planning report %s not deleted: %s", previous.id, exc.detail)

    async def _ven_name(self, client_id: str) -> str | None:
        # The authenticated client names the VEN, not the clientName the report declares.
        found = await self.vtn.store.search(Query(kind="VEN", client_id=client_id, limit=1))
        return found[0].body.get("venName") if found else None

    async def _check(self, event: StoredObject, body: dict[str, Any], client_id: str) -> None:
        if event.id != self.request_id:
            return
        name = await self._ven_name(client_id) or client_id
        try:
            self.book.check(name, body, self.clock())
        except PlanningReportError as exc:
            raise bad_request(f"planning report: {exc}") from None

    async def _stored(self, operation: str, stored: StoredObject) -> None:
        if stored.kind != "REPORT" or operation == "DELETE" or stored.client_id is None:
            return
        body = stored.body
        if body.get("eventID") != self.request_id:
            return
        name = await self._ven_name(stored.client_id)
        if name is None:
            log.info("planning report from client %s, which has no ven object", stored.client_id)
            return
        # A refusal is logged by check; the last good inputs stay.
        with contextlib.suppress(PlanningReportError):
            self.book.accept(name, self.book.check(name, body, self.clock()), self.clock())
            await self._keep_only(name, stored)

    async def _vens(self) -> list[_Ven]:
        out = []
        for stored in await self.vtn.operator_objects("VEN"):
            name = stored.body.get("venName")
            if isinstance(name, str):
                out.append(_Ven(stored.id, name, stored.client_id, stored.targets))
        return out

    # -- planning ------------------------------------------------------------------------------

    def _members(self, vens: list[_Ven]) -> dict[str, GroupSettings]:
        """VEN name -> its group (the first group that names it or its target)."""
        by_target: dict[str, list[str]] = {}
        for ven in vens:
            for target in ven.targets:
                by_target.setdefault(target, []).append(ven.name)
        out: dict[str, GroupSettings] = {}
        for group in self.settings.groups:
            names = list(group.vens)
            if group.target is not None:
                names += by_target.get(group.target, [])
            for name in names:
                out.setdefault(name, group)
        return out

    async def _prices(self, start: datetime, now: datetime) -> tuple[float, ...]:
        name = self.settings.price_program or self.settings.program
        program = await publish.find_program(self.vtn, name)
        events = []
        if program is not None:
            for stored in await self.vtn.store.search(
                Query(kind="EVENT", program_id=program, limit=publish.ALL)
            ):
                if stored.targets:
                    continue  # prices for everyone only; schedules are targeted
                try:
                    events.append(parse_event(stored.body))
                except PayloadError:
                    continue
        # No randomized start: the plan uses the prices as published.
        timeline = TimelineBuilder(rand=lambda: 0.5).build(events, now)
        try:
            return resample_prices(timeline, start, STEP, PLAN_STEPS, None)
        except BuildError:
            log.warning("no PRICE in program %r over the plan: planning at a flat price", name)
            return (0.0,) * PLAN_STEPS

    def _limit(self, group: GroupSettings, start: datetime) -> tuple[float, ...]:
        zone = self.settings.zone
        return tuple(
            group.limit_kw[(start + k * STEP).astimezone(zone).hour] for k in range(PLAN_STEPS)
        )

    async def plan(self, *, dry_run: bool = False) -> PlanOutcome:
        """Plan once and (unless ``dry_run``) publish; the outcome is also :attr:`last`."""
        from vtn_lite.fleet.model import FleetHeater, FleetProblem, PlannerUnavailable
        from vtn_lite.fleet.solve import plan_fleet

        clock = self.clock()
        now = datetime.fromtimestamp(clock, UTC)
        start = quarter_hour(now)
        fresh, stale_at = self.book.fresh(clock, self.settings.stale_after)
        stale = {n: datetime.fromtimestamp(t, UTC) for n, t in sorted(stale_at.items())}
        vens = await self._vens()
        members = self._members(vens)
        left_out = [*stale, *(n for n in fresh if n not in members)]
        for name in left_out:
            withdrawn = not dry_run and await self._withdraw(name)
            if withdrawn or name not in self._left_out:  # said once, not at every plan
                log.info(
                    "VEN %s not planned: %s%s",
                    name,
                    "its planning inputs are stale" if name in stale else "it is in no group",
                    "; its schedule is withdrawn" if withdrawn else "",
                )
        self._left_out = set(left_out)
        heaters = []
        for name, entry in sorted(fresh.items()):
            group = members.get(name)
            if group is None:
                continue
            try:
                heaters.append(FleetHeater(name, group.name, to_problem(entry.inputs, start)))
            except ProblemError as exc:
                log.warning("VEN %s not planned: %s", name, exc)
        ungrouped = tuple(sorted(n for n in fresh if n not in members))
        limits = {g.name: self._limit(g, start) for g in self.settings.groups}
        if not heaters:
            empty = tuple(GroupView(g.name, (), limits[g.name]) for g in self.settings.groups)
            self.last = PlanOutcome(now, start, empty, stale, ungrouped, 0, "no VEN to plan")
            return self.last
        problem = FleetProblem(
            step_hours=STEP.total_seconds() / 3600,
            price=await self._prices(start, now),
            heaters=tuple(heaters),
            limits_kw=limits,
        )
        try:
            # A thread: the LP and the exact scheduler run for seconds on a large fleet, and
            # the event loop serves the VENs meanwhile.
            result = await asyncio.to_thread(plan_fleet, problem, method=self.settings.method)
        except PlannerUnavailable as exc:
            log.error("fleet planner unavailable: %s", exc)
            self.last = PlanOutcome(now, start, (), stale, ungrouped, 0, str(exc))
            return self.last
        views: list[GroupView] = []
        published = 0
        ven_of = {v.name: v for v in vens}
        for group in self.settings.groups:
            names = tuple(h.ven_name for h in heaters if h.group == group.name)
            answer = result.groups.get(group.name)
            if answer is None:
                views.append(GroupView(group.name, names, limits[group.name]))
                continue
            publishing = answer.feasible and not dry_run and self.program_id is not None
            if not answer.feasible:
                log.warning(
                    "group %s cannot keep its limit of %.2f kW: smallest feasible flat limit "
                    "%s kW; nothing new published for it",
                    group.name,
                    min(limits[group.name]),
                    "unknown"
                    if answer.min_feasible_limit_kw is None
                    else f"{answer.min_feasible_limit_kw:.2f}",
                )
            if publishing:
                assert self.program_id is not None
                for name in names:
                    ven = ven_of[name]
                    await publish.publish_schedule(
                        self.vtn,
                        self.program_id,
                        ven.id,
                        name,
                        ven.targets,
                        start,
                        result.schedules[name].power_kw,
                    )
                    published += 1
            views.append(
                GroupView(
                    group.name,
                    names,
                    limits[group.name],
                    tuple(answer.aggregate_kw),
                    answer.feasible,
                    answer.min_feasible_limit_kw,
                    answer.method,
                    publishing,
                )
            )
        outcome = PlanOutcome(now, start, tuple(views), stale, ungrouped, published)
        log.info(
            "fleet plan: %d VENs in %d groups, %d schedules published, %d stale",
            len(heaters),
            len(views),
            published,
            len(stale),
        )
        self.last = outcome
        return outcome

    async def _withdraw(self, name: str) -> bool:
        """Delete the schedule of a VEN no longer planned, so it plans on its own at once
        rather than follow a plan made for inputs that are gone."""
        if self.program_id is None:
            return False
        event = await publish.find_event(self.vtn, self.program_id, publish.SCHEDULE_PREFIX + name)
        if event is None:
            return False
        await self.vtn.delete(publish.PLANNER, "EVENT", event)
        return True

    async def run(self) -> None:
        """Plan every ``interval`` seconds until cancelled; one failed run is logged and the
        next one tries again."""
        while True:
            try:
                if self.request_id is None:
                    await self.prepare()
                await self.plan()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet planning failed; trying again at the next interval")
            await asyncio.sleep(self.settings.interval)

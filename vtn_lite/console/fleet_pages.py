"""The fleet planner's page: each group's planned import against its limit, infeasible groups
and the VENs left out (docs/console.md "Fleet plan", docs/fleet-planner.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from aiohttp import web

from vtn_lite.console.pages import fragment, html_page, page_handler, with_headers
from vtn_lite.console.render import Safe, join, render, tag
from vtn_lite.console.sessions import Session
from vtn_lite.planner.job import GroupView, PlannerService, PlanOutcome

PLANNER_KEY: Final = web.AppKey("fleet_planner", PlannerService)

_TIME = "%Y-%m-%d %H:%M UTC"


def _planner(request: web.Request) -> PlannerService | None:
    return request.app.get(PLANNER_KEY)


def _kw(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _group_row(group: GroupView) -> Safe:
    if not group.vens:
        state = tag("span", "no VEN with fresh inputs", class_="badge off")
    elif group.feasible:
        state = tag("span", "within the limit", class_="badge on")
    else:
        state = tag(
            "span",
            f"infeasible: smallest feasible limit {_kw(group.min_feasible_limit_kw)} kW; "
            "nothing new published",
            class_="badge off infeasible",
            role="alert",
        )
    cells = [
        tag("td", group.name),
        tag("td", str(len(group.vens)), title=", ".join(group.vens)),
        tag("td", f"{min(group.limit_kw):.2f}–{max(group.limit_kw):.2f}"),
        tag("td", _kw(group.peak_kw) if group.aggregate_kw else ""),
        tag("td", state),
        tag("td", "published" if group.published else "not published"),
    ]
    return tag("tr", join(cells), data_group=group.name)


def _table(headers: list[str], rows: list[Safe], class_: str) -> Safe:
    head = tag("tr", join([tag("th", h) for h in headers]))
    return tag("table", join([tag("thead", head), tag("tbody", join(rows))]), class_=class_)


def fleet_status(planner: PlannerService | None) -> Safe:
    if planner is None:
        return tag("p", "The fleet planner is off ([planner] in the configuration).")
    outcome: PlanOutcome | None = planner.last
    if outcome is None:
        return tag("p", "No plan yet.")
    parts = [
        tag(
            "p",
            f"Planned at {outcome.at.strftime(_TIME)} from {outcome.start.strftime(_TIME)}: "
            f"{outcome.published} schedules published."
            + (f" {outcome.problem}." if outcome.problem else ""),
        ),
        _table(
            ["Group", "VENs", "Limit (kW)", "Planned peak (kW)", "State", "Schedules"],
            [_group_row(g) for g in outcome.groups],
            "groups",
        ),
    ]
    if outcome.stale:
        rows = [
            tag(
                "tr",
                join(
                    [
                        tag("td", name),
                        tag(
                            "td",
                            f"last inputs at {at.strftime(_TIME)}, too old: plans on its own",
                        ),
                    ]
                ),
                class_="stale",
            )
            for name, at in outcome.stale.items()
        ]
        parts += [tag("h2", "Not planned: stale inputs"), _table(["VEN", "Why"], rows, "stale")]
    refused = planner.book.refused
    if refused:
        rows = [
            tag("tr", join([tag("td", name), tag("td", why)]))
            for name, (_, why) in sorted(refused.items())
        ]
        parts += [
            tag("h2", "Last refused planning reports"),
            _table(["VEN", "Why"], rows, "refused"),
        ]
    if outcome.ungrouped:
        parts.append(tag("p", "Reporting but in no group: " + ", ".join(outcome.ungrouped)))
    return join(parts)


@page_handler
async def fleet_page(request: web.Request, session: Session) -> web.StreamResponse:
    body = Safe(render("fleet.html", status=fleet_status(_planner(request))))
    return html_page("Fleet plan", body, session, page="fleet")


@page_handler
async def fleet_fragment(request: web.Request, session: Session) -> web.StreamResponse:
    return fragment(fleet_status(_planner(request)))


@page_handler
async def fleet_series(request: web.Request, session: Session) -> web.StreamResponse:
    """Each group's planned aggregate and limit per quarter hour, for the chart."""
    planner = _planner(request)
    series: dict[str, list[dict[str, Any]]] = {}
    units: dict[str, str] = {}
    outcome = None if planner is None else planner.last
    if outcome is not None:
        for group in outcome.groups:
            for label, values in (("planned", group.aggregate_kw), ("limit", group.limit_kw)):
                if not values:
                    continue
                key = f"{group.name} {label}"
                units[key] = "kW"
                series[key] = [
                    {"x": _iso(outcome, k), "y": round(v, 4)} for k, v in enumerate(values)
                ]
    return with_headers(web.json_response({"series": series, "units": units}))


def _iso(outcome: PlanOutcome, k: int) -> str:
    return (outcome.start + timedelta(minutes=15 * k)).isoformat().replace("+00:00", "Z")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/fleet", fleet_page)
    app.router.add_get("/console/fragments/fleet", fleet_fragment)
    app.router.add_get("/console/api/fleet/series", fleet_series)

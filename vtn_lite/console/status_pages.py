"""The VEN list, a VEN's page, their live fragments and chart data (docs/console.md
"VEN status")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from vtn_lite.console.checkins import CheckinStatus
from vtn_lite.console.directory import (
    VenEntry,
    numeric,
    report_values,
    ven_of_target,
)
from vtn_lite.console.dispatch import payload_types
from vtn_lite.console.pages import (
    ago,
    console_of,
    duration_text,
    form_of,
    fragment,
    html_page,
    operator_principal,
    options,
    page_handler,
    utc,
    with_headers,
)
from vtn_lite.console.render import Safe, esc, join, render, tag
from vtn_lite.console.sessions import Session
from vtn_lite.console.state import Console
from vtn_lite.errors import ApiError
from vtn_lite.service import event_bounds

#: Points per payload type on a VEN's chart.
CHART_POINTS: Final = 500


def _filters(query: Mapping[str, str]) -> tuple[str, str, str, int]:
    q = query.get("q", "")[:128]
    state = query.get("state", "")
    group = query.get("group", "")[:128]
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    return q, state if state in ("online", "offline") else "", group, page


def _state_badge(status: CheckinStatus) -> Safe:
    return tag(
        "span",
        "online" if status.online else "offline",
        class_=f"badge {'on' if status.online else 'off'}",
    )


def _quality(status: CheckinStatus) -> Safe:
    return tag(
        "span",
        f"{status.quality * 100:.0f} %",
        title=f"{status.received} received / {status.expected:.1f} expected check-ins",
        class_="quality",
    )


def _reports_cell(console: Console, ven: VenEntry) -> Safe:
    latest = console.directory.last_reports.get(ven.client_id or "", {})
    return join(
        [
            tag(
                "div",
                f"{kind}: {value.value}{' ' + value.units if value.units else ''}",
                title=value.at,
                class_="report",
            )
            for kind, value in sorted(latest.items())
        ]
    )


def ven_rows(console: Console, query: Mapping[str, str]) -> Safe:
    q, state, group, page = _filters(query)
    now = console.clock()
    needle = q.casefold()
    found: list[VenEntry] = []
    for ven in console.directory.by_name():
        if needle and needle not in ven.name.casefold() and needle != ven.id:
            continue
        if group and group not in ven.targets:
            continue
        if state and console.tracker.online(ven.client_id, now) != (state == "online"):
            continue
        found.append(ven)
    size = console.settings.page_size
    pages = max(1, math.ceil(len(found) / size))
    page = min(page, pages)
    rows = []
    for ven in found[(page - 1) * size : page * size]:
        status = console.tracker.status(ven.client_id, now)
        interval = duration_text(status.interval) + ("" if status.observed else " (default)")
        rows.append(
            Safe(
                "<tr>"
                + tag("td", tag("a", ven.name, href=f"/console/vens/{ven.id}"))
                + tag("td", ven.protocol)
                + tag("td", _state_badge(status))
                + tag(
                    "td",
                    join(
                        [esc(utc(status.last)), tag("span", ago(status.last, now), class_="muted")],
                        " ",
                    ),
                )
                + tag("td", interval)
                + tag("td", _quality(status))
                + tag("td", _reports_cell(console, ven))
                + "</tr>"
            )
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "VEN",
            "Protocol",
            "State",
            "Last check-in",
            "Expected interval",
            "Connection quality",
            "Last reports",
        )
    )
    base = {"q": q, "state": state, "group": group}
    links = []
    if page > 1:
        links.append(
            tag("a", "← previous", href=f"/console/vens?{urlencode({**base, 'page': page - 1})}")
        )
    links.append(esc(f"page {page} of {pages} · {len(found)} VENs"))
    if page < pages:
        links.append(
            tag("a", "next →", href=f"/console/vens?{urlencode({**base, 'page': page + 1})}")
        )
    table = Safe(
        f'<table class="vens"><thead><tr>{head}</tr></thead><tbody>{join(rows)}</tbody></table>'
    )
    return Safe(table + tag("p", join(links, " "), class_="pager"))


@page_handler
async def vens_page(request: web.Request, session: Session) -> web.StreamResponse:
    console = console_of(request)
    q, state, group, page = _filters(request.query)
    body = Safe(
        render(
            "vens.html",
            q=q,
            state_options=options(
                [("", "any"), ("online", "online"), ("offline", "offline")], state
            ),
            group_options=options(
                [("", "any"), *((g, g) for g in console.directory.groups())], group
            ),
            query=urlencode({"q": q, "state": state, "group": group, "page": page}),
            rows=ven_rows(console, request.query),
        )
    )
    if console.oadr2b is not None:
        link = tag("a", "OpenADR 2.0b registrations", href="/console/oadr2b")
        body = Safe(body + tag("p", link))
    return html_page("VENs", body, session, page="vens")


@page_handler
async def vens_fragment(request: web.Request, session: Session) -> web.StreamResponse:
    return fragment(ven_rows(console_of(request), request.query))


# --- one VEN --------------------------------------------------------------------------------


def _ven_or_404(console: Console, ven_id: str) -> VenEntry:
    ven = console.directory.vens.get(ven_id)
    if ven is None:
        raise ApiError(404, f"no VEN {ven_id}")
    return ven


def ven_status(console: Console, ven: VenEntry) -> Safe:
    now = console.clock()
    status = console.tracker.status(ven.client_id, now)
    facts = [
        ("Name", esc(ven.name)),
        ("VEN id", esc(ven.id)),
        ("Client id", esc(ven.client_id or "")),
        ("Groups", esc(", ".join(ven.groups) or "none")),
        ("State", _state_badge(status)),
        ("Last check-in", esc(f"{utc(status.last)} {ago(status.last, now)}")),
        (
            "Expected interval",
            esc(duration_text(status.interval) + ("" if status.observed else " (default)")),
        ),
        ("Connection quality", _quality(status)),
    ]
    dl = join([Safe(tag("dt", k) + tag("dd", v)) for k, v in facts])
    latest = console.directory.last_reports.get(ven.client_id or "", {})
    rows = join(
        [
            Safe(
                "<tr>"
                + tag("td", kind)
                + tag("td", value.value)
                + tag("td", value.units or "")
                + tag("td", value.at)
                + "</tr>"
            )
            for kind, value in sorted(latest.items())
        ]
    )
    reports = Safe(
        '<table class="reports"><thead><tr><th>Payload</th><th>Value</th><th>Units</th>'
        f"<th>Time</th></tr></thead><tbody>{rows}</tbody></table>"
        if latest
        else '<p class="muted">No reports yet.</p>'
    )
    return Safe(
        tag("section", Safe(tag("dl", dl, class_="facts")), class_="card")
        + tag("section", Safe(tag("h2", "Last report per payload type") + reports), class_="card")
    )


def _event_state(start: datetime | None, end: datetime | None, now: datetime) -> str:
    if start is not None and now < start:
        return "upcoming"
    if end is None or now < end:
        return "active"
    return "over"


async def ven_events(console: Console, ven: VenEntry, session: Session) -> Safe:
    now = datetime.fromtimestamp(console.clock(), tz=UTC)
    events = await console.vtn.events_for_client(ven.client_id) if ven.client_id else []
    rows = []
    for body in reversed(events[-100:]):
        span = event_bounds(body, now)
        start, end = span if span else (None, None)
        values = [
            f"{p.get('type')} {', '.join(str(v) for v in p.get('values') or [])}"
            for p in (body.get("intervals") or [{}])[0].get("payloads") or []
        ]
        actions = Safe("")
        if session.may_dispatch:
            actions = Safe(
                render("cancel_form.html", event_id=body["id"], csrf=session.csrf, ven_id=ven.id)
            )
        rows.append(
            Safe(
                "<tr>"
                + tag("td", body.get("eventName") or body["id"])
                + tag(
                    "td",
                    "; ".join(values) or ", ".join(sorted(t for t in payload_types(body) if t)),
                )
                + tag("td", start.strftime("%Y-%m-%d %H:%M UTC") if start else "")
                + tag("td", end.strftime("%Y-%m-%d %H:%M UTC") if end else "open")
                + tag("td", _event_state(start, end, now), class_="state")
                + tag("td", actions)
                + "</tr>"
            )
        )
    if not rows:
        return Safe('<p class="muted">No events.</p>')
    return Safe(
        '<table class="timeline"><thead><tr><th>Event</th><th>Signal</th><th>Start</th><th>End</th>'
        f"<th>State</th><th></th></tr></thead><tbody>{join(rows)}</tbody></table>"
    )


@page_handler
async def ven_page(request: web.Request, session: Session) -> web.StreamResponse:
    console = console_of(request)
    ven = _ven_or_404(console, request.match_info["ven_id"])
    groups_form = Safe("")
    if session.may_dispatch:
        groups_form = Safe(
            render(
                "groups_form.html",
                ven_id=ven.id,
                csrf=session.csrf,
                groups=", ".join(ven.groups),
            )
        )
    body = Safe(
        render(
            "ven.html",
            ven_id=ven.id,
            status=ven_status(console, ven),
            events=await ven_events(console, ven, session),
            groups_form=groups_form,
        )
    )
    return html_page(f"VEN {ven.name}", body, session, page="ven")


@page_handler
async def ven_fragment(request: web.Request, session: Session) -> web.StreamResponse:
    console = console_of(request)
    return fragment(ven_status(console, _ven_or_404(console, request.match_info["ven_id"])))


@page_handler
async def ven_events_fragment(request: web.Request, session: Session) -> web.StreamResponse:
    console = console_of(request)
    ven = _ven_or_404(console, request.match_info["ven_id"])
    return fragment(await ven_events(console, ven, session))


@page_handler
async def ven_series(request: web.Request, session: Session) -> web.StreamResponse:
    """Numeric report values per payload type, oldest first, for the chart."""
    console = console_of(request)
    ven = _ven_or_404(console, request.match_info["ven_id"])
    series: dict[str, list[dict[str, Any]]] = {}
    units: dict[str, str | None] = {}
    reports = (
        await console.vtn.operator_objects("REPORT", client_id=ven.client_id)
        if ven.client_id
        else []
    )
    for report in reports:
        for value in report_values(report.body):
            number = numeric(value.value)
            if number is not None:
                series.setdefault(value.payload_type, []).append({"x": value.at, "y": number})
                units[value.payload_type] = value.units
    for points in series.values():
        points.sort(key=lambda p: p["x"])
        del points[:-CHART_POINTS]
    response = web.json_response({"series": series, "units": units})
    return with_headers(response)


@page_handler
async def ven_groups(request: web.Request, session: Session) -> web.StreamResponse:
    console = console_of(request)
    form = await form_of(request, session, dispatch=True)
    ven = _ven_or_404(console, request.match_info["ven_id"])
    groups = [g.strip() for g in form.get("groups", "").split(",") if g.strip()]
    own = [t for t in ven.targets if ven_of_target(t)]
    await console.vtn.grant_targets(
        operator_principal(session), ven.id, [*own, *dict.fromkeys(groups)]
    )
    raise web.HTTPSeeOther(f"/console/vens/{ven.id}")

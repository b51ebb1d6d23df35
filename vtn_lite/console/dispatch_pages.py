"""The new-event and edit forms, cancel, and the stored-event page (docs/console.md "Dispatch")."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ven_edge.oadr3.timefmt import TimeFormatError, parse_datetime, parse_duration
from vtn_lite.console.directory import (
    VEN_TARGET_PREFIX,
    ven_of_target,
    ven_target,
)
from vtn_lite.console.dispatch import (
    PAYLOAD_TYPES,
    DispatchContext,
    DispatchResult,
    program_unit,
    validate_dispatch,
)
from vtn_lite.console.pages import (
    console_of,
    forbidden_page,
    form_of,
    html_page,
    operator_principal,
    options,
    page_handler,
    utc_minutes,
)
from vtn_lite.console.render import Safe, join, render, tag
from vtn_lite.console.sessions import Session
from vtn_lite.console.state import Console
from vtn_lite.errors import ApiError

log = logging.getLogger(__name__)


async def _context(console: Console, except_event: str | None = None) -> DispatchContext:
    programs = {p.id: p.body for p in await console.vtn.operator_objects("PROGRAM")}
    events = [e.body for e in await console.vtn.operator_objects("EVENT")]
    kept = None
    if except_event is not None:
        edited = next((e for e in events if e.get("id") == except_event), None)
        start = ((edited or {}).get("intervalPeriod") or {}).get("start")
        if isinstance(start, str):
            try:  # whole minutes, as the form shows it
                kept = parse_datetime(start).replace(second=0, microsecond=0).timestamp()
            except TimeFormatError:
                kept = None
    return DispatchContext(
        now=console.clock(),
        vens=console.directory.vens,
        groups=console.directory.groups(),
        programs=programs,
        events=events,
        except_event=except_event,
        kept_start=kept,
    )


def _field_error(result: DispatchResult | None, name: str) -> Safe:
    if result is None or name not in result.errors:
        return Safe("")
    return tag("span", result.errors[name], class_="field-error", id=f"{name}_error", role="alert")


async def dispatch_form(
    console: Console,
    session: Session,
    form: Mapping[str, str],
    result: DispatchResult | None,
    *,
    action: str,
    submit: str,
) -> Safe:
    ctx_programs = await console.vtn.operator_objects("PROGRAM")
    program_choices = [(p.id, str(p.body.get("programName", p.id))) for p in ctx_programs]
    chosen_program = form.get("program", program_choices[0][0] if program_choices else "")
    program = next((p.body for p in ctx_programs if p.id == chosen_program), {})
    currency, units = program_unit(program, "PRICE")
    vens = sorted(console.directory.vens.values(), key=lambda v: v.name)
    warnings = Safe("")
    if result is not None and result.warnings and not result.errors:
        items = join([tag("li", w) for w in result.warnings])
        warnings = Safe(render("overlap.html", items=items))
    mode = form.get("target_mode", "vens")
    start_mode = form.get("start_mode", "now")
    values = {
        f"{name}_error": _field_error(result, name)
        for name in (
            "program",
            "payload_type",
            "value",
            "event_name",
            "start_at",
            "duration",
            "randomize",
            "vens",
            "group",
            "target_mode",
        )
    }
    # Without a value of the operator's own, the start is shown in UTC (tz_offset 0); the page
    # script moves it to the browser's zone (data-utc) and sets tz_offset to match.
    start_utc = ""
    if "start_at" not in form:
        start_utc = utc_minutes(console.clock() + 600)
    elif form.get("tz_offset") == "0" and form.get("start_at_utc") == "yes":
        start_utc = form["start_at"]
    return Safe(
        render(
            "dispatch.html",
            action=action,
            submit=submit,
            csrf=session.csrf,
            tz_offset=form.get("tz_offset", "0"),
            warnings=warnings,
            program_options=options(program_choices, chosen_program),
            type_options=options(
                [(t, t) for t in PAYLOAD_TYPES], form.get("payload_type", "SIMPLE")
            ),
            value=form.get("value", "1"),
            price_unit=f"{currency or 'USD'} per {units or 'KWH'} (from the program)",
            event_name=form.get("event_name", ""),
            start_now=Safe("checked" if start_mode == "now" else ""),
            start_at_checked=Safe("checked" if start_mode == "at" else ""),
            start_at=form.get("start_at", start_utc),
            start_utc=f"{start_utc}Z" if start_utc else "",
            duration=form.get("duration", "60"),
            randomize=form.get("randomize", ""),
            ven_options=options(
                [(v.id, v.name) for v in vens], set(form.get("vens", "").split(","))
            ),
            group_options=options(
                [(g, g) for g in console.directory.groups()], form.get("group", "")
            ),
            mode_vens=Safe("checked" if mode == "vens" else ""),
            mode_group=Safe("checked" if mode == "group" else ""),
            mode_all=Safe("checked" if mode == "all" else ""),
            reports=Safe("checked" if form.get("reports", "on") == "on" else ""),
            **values,
        )
    )


async def _dispatch_page(
    request: web.Request, session: Session, event_id: str | None
) -> web.StreamResponse:
    console = console_of(request)
    if not session.may_dispatch:
        raise forbidden_page(session, "Your role (viewer) may look but not dispatch.")
    action = f"/console/events/{event_id}/edit" if event_id else "/console/dispatch"
    title = "Edit event" if event_id else "New event"
    if request.method == "GET":
        form = await _form_from_event(console, event_id) if event_id else {}
        body = await dispatch_form(
            console, session, form, None, action=action, submit="Save" if event_id else "Send"
        )
        return html_page(title, body, session, page="dispatch")
    form = await form_of(request, session, dispatch=True)
    result = validate_dispatch(form, await _context(console, event_id))
    if result.errors or result.warnings or result.body is None:
        if result.errors:
            log.info("console: %s's event refused: %s", session.user, result.errors)
        body = await dispatch_form(
            console, session, form, result, action=action, submit="Save" if event_id else "Send"
        )
        return html_page(
            title, body, session, page="dispatch", status=400 if result.errors else 200
        )
    principal = operator_principal(session)
    for ven_id in result.grant:
        ven = console.directory.vens[ven_id]
        await console.vtn.grant_targets(principal, ven_id, [*ven.targets, ven_target(ven_id)])
    if event_id:
        stored = await console.vtn.update(principal, "EVENT", event_id, result.body)
    else:
        stored = await console.vtn.create(principal, "EVENT", result.body)
    log.info(
        "console: %s %s event %s", session.user, "updated" if event_id else "created", stored["id"]
    )
    raise web.HTTPSeeOther(f"/console/dispatched/{stored['id']}")


async def _form_from_event(console: Console, event_id: str) -> dict[str, str]:
    body = await console.vtn.operator_event(event_id)
    if body is None:
        raise ApiError(404, f"no event {event_id}")
    payload = ((body.get("intervals") or [{}])[0].get("payloads") or [{}])[0]
    period = body.get("intervalPeriod") or {}
    targets = body.get("targets") or []
    form = {
        "program": body.get("programID", ""),
        "payload_type": str(payload.get("type", "")),
        "value": str((payload.get("values") or [""])[0]),
        "event_name": body.get("eventName") or "",
        "start_mode": "at",
        "start_at": _utc_start(period.get("start")),
        "start_at_utc": "yes",
        "tz_offset": "0",
        "duration": str(_minutes(period.get("duration"))),
        "randomize": str(_minutes(period.get("randomizeStart")) or ""),
        "reports": "on" if body.get("reportDescriptors") else "",
    }
    if not targets:
        form["target_mode"] = "all"
    elif all(ven_of_target(t) for t in targets):
        form.update(
            target_mode="vens", vens=",".join(t.removeprefix(VEN_TARGET_PREFIX) for t in targets)
        )
    else:
        form.update(target_mode="group", group=targets[0])
    return form


def _minutes(duration: Any) -> int:
    if not isinstance(duration, str):
        return 0
    try:
        delta = parse_duration(duration).as_timedelta()
    except (TimeFormatError, ValueError, OverflowError):
        return 0  # a calendar or open-ended duration: the operator types one in
    return int(delta.total_seconds() // 60)


def _utc_start(start: Any) -> str:
    if not isinstance(start, str):
        return ""
    try:
        return utc_minutes(parse_datetime(start).timestamp())
    except (TimeFormatError, ValueError, OverflowError):
        return ""


@page_handler
async def dispatch(request: web.Request, session: Session) -> web.StreamResponse:
    return await _dispatch_page(request, session, None)


@page_handler
async def edit_event(request: web.Request, session: Session) -> web.StreamResponse:
    return await _dispatch_page(request, session, request.match_info["event_id"])


@page_handler
async def dispatched(request: web.Request, session: Session) -> web.StreamResponse:
    console = console_of(request)
    event_id = request.match_info["event_id"]
    body = await console.vtn.operator_event(event_id)
    if body is None:
        raise ApiError(404, f"no event {event_id}")
    targets = body.get("targets") or []
    vens = console.directory.vens
    names = [vens[v].name if (v := ven_of_target(t)) in vens else t for t in targets]
    whom = ", ".join(names) if names else "all VENs"
    period = body.get("intervalPeriod") or {}
    text = Safe(
        render(
            "dispatched.html",
            name=body.get("eventName") or event_id,
            whom=whom,
            start=period.get("start", ""),
            duration=period.get("duration", ""),
            event_id=event_id,
        )
    )
    return html_page("Event stored", text, session, page="dispatched")


@page_handler
async def cancel_event(request: web.Request, session: Session) -> web.StreamResponse:
    console = console_of(request)
    event_id = request.match_info["event_id"]
    form = await form_of(request, session, dispatch=True)
    await console.vtn.delete(operator_principal(session), "EVENT", event_id)
    log.info("console: %s cancelled event %s", session.user, event_id)
    back = form.get("ven", "")
    # Back to the VEN page the form was on (pages send no Referer: Referrer-Policy).
    raise web.HTTPSeeOther(
        f"/console/vens/{back}" if back in console.directory.vens else "/console/vens"
    )

"""The console's pages, fragments and forms (docs/console.md).

Pages render on the server from escaped parts (:mod:`.render`); the page script replaces the
live fragments (``data-live``) when the server-sent event stream says something changed.
Every POST needs the session's CSRF token; dispatching needs the dispatcher role.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from ven_edge.oadr3.timefmt import TimeFormatError, parse_datetime, parse_duration
from vtn_lite.auth import Principal
from vtn_lite.console.checkins import CheckinStatus, CheckinTracker
from vtn_lite.console.directory import (
    VEN_TARGET_PREFIX,
    VenDirectory,
    VenEntry,
    numeric,
    report_values,
    ven_of_target,
    ven_target,
)
from vtn_lite.console.dispatch import (
    PAYLOAD_TYPES,
    DispatchContext,
    DispatchResult,
    event_bounds,
    payload_types,
    program_unit,
    validate_dispatch,
)
from vtn_lite.console.render import Safe, esc, join, render, tag
from vtn_lite.console.sessions import COOKIE, LOGIN_COOKIE, Session, Sessions
from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.console.throttle import LoginThrottle
from vtn_lite.console.users import UserDirectory, UsersError
from vtn_lite.errors import ApiError
from vtn_lite.service import Vtn

log = logging.getLogger(__name__)

STATIC: Final = Path(__file__).resolve().parent / "static"
CHARTJS_CANDIDATES: Final = (
    Path("/usr/share/javascript/chart.js/chart.min.js"),
    Path("/usr/share/javascript/chart.js/chart.js"),
)
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
#: How often the live stream looks for changes, and sends a keep-alive comment.
LIVE_TICK_S: Final = 1.0
LIVE_KEEPALIVE_S: Final = 15.0
#: Points per payload type on a VEN's chart.
CHART_POINTS: Final = 500


class Console:
    """The console's state, shared by its handlers."""

    def __init__(
        self,
        vtn: Vtn,
        settings: ConsoleSettings,
        *,
        clock: Callable[[], float],
        secure_cookies: bool,
    ) -> None:
        self.vtn = vtn
        self.settings = settings
        self.clock = clock
        self.secure_cookies = secure_cookies
        path = Path(settings.users_file) if settings.users_file and not settings.users else None
        self.users = UserDirectory(path, settings.users)
        self.sessions = Sessions(idle=settings.session_idle)
        self.throttle = LoginThrottle()
        self.tracker = CheckinTracker(
            window=settings.window,
            default_interval=settings.default_interval,
            merge_s=settings.checkin_merge,
        )
        self.directory = VenDirectory()
        self.directory.seed(vtn.operator_objects("VEN"), vtn.operator_objects("REPORT"))
        self.tracker.load(vtn.load_checkins())
        vtn.listeners.append(self.directory.on_change)
        self.stopping = asyncio.Event()

    def checked_in(self, client_id: str) -> None:
        self.tracker.seen(client_id, self.clock())

    def flush_checkins(self) -> None:
        rows = self.tracker.take_dirty()
        if rows:
            self.vtn.save_checkins(rows)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_interval)
            try:
                self.flush_checkins()
            except Exception:
                log.exception("could not store check-ins; keeping them in memory")

    @property
    def revision(self) -> int:
        return self.directory.revision + self.tracker.revision


CONSOLE_KEY: Final = web.AppKey("console", Console)


# --- helpers --------------------------------------------------------------------------------


def _headers(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(HEADERS)
    return response


def html_page(
    title: str,
    body: Safe,
    session: Session | None,
    *,
    page: str,
    status: int = 200,
    scripts: bool = True,
) -> web.Response:
    nav: Safe = Safe("")
    who: Safe = Safe("")
    if session is not None:
        links = [tag("a", "VENs", href="/console/vens")]
        if session.may_dispatch:
            links.append(tag("a", "Dispatch", href="/console/dispatch"))
        nav = join(links, " ")
        who = Safe(
            render("logout_form.html", user=session.user, role=session.role, csrf=session.csrf)
        )
    script_tags = Safe(
        '<script src="/console/static/chart.js" defer></script>\n'
        '  <script src="/console/static/console.js" defer></script>'
        if scripts
        else ""
    )
    text = render(
        "base.html", title=title, body=body, nav=nav, who=who, page=page, scripts=script_tags
    )
    response = web.Response(text=text, status=status, content_type="text/html")
    _headers(response)
    return response


def fragment(body: Safe) -> web.Response:
    response = web.Response(text=str(body), content_type="text/html")
    _headers(response)
    return response


def utc(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_minutes(ts: float) -> str:
    """``YYYY-MM-DDTHH:MM`` in UTC, as a datetime-local field holds it."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return ""
    seconds = max(0, int(now - ts))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def duration_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def options(choices: list[tuple[str, str]], selected: str | set[str]) -> Safe:
    chosen = selected if isinstance(selected, set) else {selected}
    return join(
        [tag("option", label, value=value, selected=value in chosen) for value, label in choices]
    )


def _console(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


def current_session(request: web.Request) -> Session | None:
    console = _console(request)
    session = console.sessions.get(request.cookies.get(COOKIE), console.clock())
    if session is None:
        return None
    try:
        user = console.users.get(session.user)
    except UsersError:
        log.exception("cannot read the console users")
        return None
    if user is None:
        console.sessions.close(request.cookies.get(COOKIE))
        return None
    session.role = user.role  # a role changed in the users file applies at once
    return session


Handler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


def page_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = current_session(request)
        if session is None:
            if request.path.startswith(("/console/fragments/", "/console/api/", "/console/live")):
                return _headers(web.Response(status=401, text="log in first"))
            raise web.HTTPSeeOther("/console/login")
        return await handler(request, session)

    return wrapped


async def form_of(request: web.Request, session: Session, *, dispatch: bool) -> dict[str, str]:
    """The POSTed form, after the CSRF and role checks (403 otherwise)."""
    data = await request.post()
    if not session.csrf_ok(data.get("csrf") if isinstance(data.get("csrf"), str) else None):  # type: ignore[arg-type]
        log.warning(
            "console: %s %s refused: missing or wrong CSRF token", request.method, request.path
        )
        raise _forbidden(
            session,
            "The form's security token is missing or out of date: reload the page and try again.",
        )
    if dispatch and not session.may_dispatch:
        log.warning("console: %s may not dispatch (%s)", session.user, request.path)
        raise _forbidden(session, "Your role (viewer) may look but not dispatch.")
    form: dict[str, str] = {}
    for key in data:
        values = [v for v in data.getall(key) if isinstance(v, str)]
        form[key] = ",".join(values) if key == "vens" else (values[-1] if values else "")
    return form


class _PageError(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _forbidden(session: Session | None, message: str) -> _PageError:
    body = tag("p", message, class_="error", role="alert")
    return _PageError(html_page("Refused", body, session, page="error", status=403))


@web.middleware
async def console_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/console"):
        response: web.StreamResponse = await handler(request)
        return response
    try:
        response = await handler(request)
        return response
    except _PageError as exc:
        return exc.response
    except ApiError as exc:
        body = tag("p", exc.detail, class_="error", role="alert")
        return html_page(
            "Not done", body, current_session(request), page="error", status=exc.status
        )


# --- login ------------------------------------------------------------------------------------


def _login_page(
    console: Console, message: str = "", user: str = "", status: int = 200
) -> web.Response:
    nonce = secrets.token_urlsafe(24)
    body = Safe(render("login.html", csrf=nonce, message=message, user=user))
    response = html_page("Log in", body, None, page="login", status=status, scripts=False)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        path="/console/login",
        httponly=True,
        samesite="Strict",
        secure=console.secure_cookies,
        max_age=3600,
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(_console(request))


async def login(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    data = await request.post()
    user = str(data.get("user", ""))[:64]
    password = str(data.get("password", ""))[:1024]
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    sent = str(data.get("csrf", ""))
    if not nonce or not hmac.compare_digest(nonce.encode(), sent.encode()):
        log.warning("console: login refused: missing or wrong CSRF token")
        return _login_page(console, "The form's security token is missing: try again.", user, 403)
    address = request.remote or "unknown"
    wait = console.throttle.wait(user, address, console.clock())
    if wait > 0:
        # Refused before the password is checked: guessing costs time, not our CPU.
        response = _login_page(
            console, f"Too many failed logins: try again in {math.ceil(wait)} s.", user, 429
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    try:
        found = await asyncio.to_thread(console.users.check, user, password)
    except UsersError:
        log.exception("cannot read the console users")
        return _login_page(console, "The user list cannot be read; see the VTN log.", user, 500)
    if found is None:
        console.throttle.failed(user, address, console.clock())
        log.warning("console: failed login for %r from %s", user, address)
        return _login_page(console, "Wrong user or password.", user, 401)
    console.throttle.succeeded(user)
    session_id = console.sessions.open(found.name, found.role, console.clock())
    log.info("console: %s (%s) logged in from %s", found.name, found.role, address)
    response = web.HTTPSeeOther("/console/vens")
    response.set_cookie(
        COOKIE,
        session_id,
        path="/console/",
        httponly=True,
        samesite="Strict",
        secure=console.secure_cookies,
    )
    response.del_cookie(LOGIN_COOKIE, path="/console/login")
    raise response


@page_handler
async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    await form_of(request, session, dispatch=False)
    _console(request).sessions.close(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(COOKIE, path="/console/")
    raise response


# --- VEN list -------------------------------------------------------------------------------


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
    console = _console(request)
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
    return html_page("VENs", body, session, page="vens")


@page_handler
async def vens_fragment(request: web.Request, session: Session) -> web.StreamResponse:
    return fragment(ven_rows(_console(request), request.query))


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


def ven_events(console: Console, ven: VenEntry, session: Session) -> Safe:
    now = datetime.fromtimestamp(console.clock(), tz=UTC)
    events = console.vtn.events_for_client(ven.client_id) if ven.client_id else []
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
            actions = Safe(render("cancel_form.html", event_id=body["id"], csrf=session.csrf))
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
    console = _console(request)
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
            events=ven_events(console, ven, session),
            groups_form=groups_form,
        )
    )
    return html_page(f"VEN {ven.name}", body, session, page="ven")


@page_handler
async def ven_fragment(request: web.Request, session: Session) -> web.StreamResponse:
    console = _console(request)
    return fragment(ven_status(console, _ven_or_404(console, request.match_info["ven_id"])))


@page_handler
async def ven_events_fragment(request: web.Request, session: Session) -> web.StreamResponse:
    console = _console(request)
    ven = _ven_or_404(console, request.match_info["ven_id"])
    return fragment(ven_events(console, ven, session))


@page_handler
async def ven_series(request: web.Request, session: Session) -> web.StreamResponse:
    """Numeric report values per payload type, oldest first, for the chart."""
    console = _console(request)
    ven = _ven_or_404(console, request.match_info["ven_id"])
    series: dict[str, list[dict[str, Any]]] = {}
    units: dict[str, str | None] = {}
    reports = (
        console.vtn.operator_objects("REPORT", client_id=ven.client_id) if ven.client_id else []
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
    return _headers(response)


@page_handler
async def ven_groups(request: web.Request, session: Session) -> web.StreamResponse:
    console = _console(request)
    form = await form_of(request, session, dispatch=True)
    ven = _ven_or_404(console, request.match_info["ven_id"])
    groups = [g.strip() for g in form.get("groups", "").split(",") if g.strip()]
    own = [t for t in ven.targets if ven_of_target(t)]
    console.vtn.grant_targets(_principal(session), ven.id, [*own, *dict.fromkeys(groups)])
    raise web.HTTPSeeOther(f"/console/vens/{ven.id}")


# --- dispatch -------------------------------------------------------------------------------


def _principal(session: Session) -> Principal:
    # Console writes go through the service as business logic, named after the operator.
    return Principal(f"console:{session.user}", "bl")


def _context(console: Console, except_event: str | None = None) -> DispatchContext:
    programs = {p.id: p.body for p in console.vtn.operator_objects("PROGRAM")}
    events = [e.body for e in console.vtn.operator_objects("EVENT")]
    return DispatchContext(
        now=console.clock(),
        vens=console.directory.vens,
        groups=console.directory.groups(),
        programs=programs,
        events=events,
        except_event=except_event,
    )


def _field_error(result: DispatchResult | None, name: str) -> Safe:
    if result is None or name not in result.errors:
        return Safe("")
    return tag("span", result.errors[name], class_="field-error", id=f"{name}_error", role="alert")


def dispatch_form(
    console: Console,
    session: Session,
    form: Mapping[str, str],
    result: DispatchResult | None,
    *,
    action: str,
    submit: str,
) -> Safe:
    ctx_programs = console.vtn.operator_objects("PROGRAM")
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
    console = _console(request)
    if not session.may_dispatch:
        raise _forbidden(session, "Your role (viewer) may look but not dispatch.")
    action = f"/console/events/{event_id}/edit" if event_id else "/console/dispatch"
    title = "Edit event" if event_id else "New event"
    if request.method == "GET":
        form = _form_from_event(console, event_id) if event_id else {}
        body = dispatch_form(
            console, session, form, None, action=action, submit="Save" if event_id else "Send"
        )
        return html_page(title, body, session, page="dispatch")
    form = await form_of(request, session, dispatch=True)
    result = validate_dispatch(form, _context(console, event_id))
    if result.errors or result.warnings or result.body is None:
        if result.errors:
            log.info("console: %s's event refused: %s", session.user, result.errors)
        body = dispatch_form(
            console, session, form, result, action=action, submit="Save" if event_id else "Send"
        )
        return html_page(
            title, body, session, page="dispatch", status=400 if result.errors else 200
        )
    principal = _principal(session)
    for ven_id in result.grant:
        ven = console.directory.vens[ven_id]
        console.vtn.grant_targets(principal, ven_id, [*ven.targets, ven_target(ven_id)])
    if event_id:
        stored = console.vtn.update(principal, "EVENT", event_id, result.body)
    else:
        stored = console.vtn.create(principal, "EVENT", result.body)
    log.info(
        "console: %s %s event %s", session.user, "updated" if event_id else "created", stored["id"]
    )
    raise web.HTTPSeeOther(f"/console/dispatched/{stored['id']}")


def _form_from_event(console: Console, event_id: str) -> dict[str, str]:
    body = console.vtn.operator_event(event_id)
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
    console = _console(request)
    event_id = request.match_info["event_id"]
    body = console.vtn.operator_event(event_id)
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
    console = _console(request)
    await form_of(request, session, dispatch=True)
    event_id = request.match_info["event_id"]
    console.vtn.delete(_principal(session), "EVENT", event_id)
    log.info("console: %s cancelled event %s", session.user, event_id)
    referer = request.headers.get("Referer", "")
    raise web.HTTPSeeOther(
        "/console/vens"
        if "/console/vens/" not in referer
        else referer[referer.index("/console/") :]
    )


# --- live updates and files -----------------------------------------------------------------


@page_handler
async def live(request: web.Request, session: Session) -> web.StreamResponse:
    """Server-sent events: ``change`` whenever VENs, reports or check-ins changed."""
    console = _console(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    seen = console.revision
    quiet = 0.0
    while not console.stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(console.stopping.wait(), LIVE_TICK_S)
        if console.revision != seen:
            seen = console.revision
            await response.write(f"event: change\ndata: {seen}\n\n".encode())
            quiet = 0.0
        else:
            quiet += LIVE_TICK_S
            if quiet >= LIVE_KEEPALIVE_S:
                await response.write(b": keep-alive\n\n")
                quiet = 0.0
    return response


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name == "chart.js":
        for candidate in CHARTJS_CANDIDATES:
            if candidate.is_file():
                return _headers(
                    web.FileResponse(candidate, headers={"Content-Type": "text/javascript"})
                )
        return _headers(
            web.Response(
                status=404, text="Chart.js is not installed: apt-get install libjs-chart.js"
            )
        )
    if name not in ("console.js", "console.css"):
        return _headers(web.Response(status=404, text="no such file"))
    kind = "text/javascript" if name.endswith(".js") else "text/css"
    return _headers(web.FileResponse(STATIC / name, headers={"Content-Type": kind}))


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/console/vens")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console", root)
    app.router.add_get("/console/", root)
    app.router.add_get("/console/login", login_form)
    app.router.add_post("/console/login", login)
    app.router.add_post("/console/logout", logout)
    app.router.add_get("/console/vens", vens_page)
    app.router.add_get("/console/fragments/vens", vens_fragment)
    app.router.add_get("/console/vens/{ven_id}", ven_page)
    app.router.add_post("/console/vens/{ven_id}/groups", ven_groups)
    app.router.add_get("/console/fragments/vens/{ven_id}", ven_fragment)
    app.router.add_get("/console/fragments/vens/{ven_id}/events", ven_events_fragment)
    app.router.add_get("/console/api/vens/{ven_id}/series", ven_series)
    app.router.add_route("*", "/console/dispatch", dispatch)
    app.router.add_route("*", "/console/events/{event_id}/edit", edit_event)
    app.router.add_get("/console/dispatched/{event_id}", dispatched)
    app.router.add_post("/console/events/{event_id}/cancel", cancel_event)
    app.router.add_get("/console/live", live)
    app.router.add_get("/console/static/{name}", static_file)

"""Page plumbing shared by the console's handlers: the page frame and security headers, the
session check, the CSRF-checked form, error pages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from vtn_lite.auth import Principal
from vtn_lite.console.render import Safe, join, render, tag
from vtn_lite.console.sessions import COOKIE, Session
from vtn_lite.console.state import CONSOLE_KEY, Console
from vtn_lite.console.users import UsersError
from vtn_lite.errors import ApiError

log = logging.getLogger(__name__)

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


def with_headers(response: web.StreamResponse) -> web.StreamResponse:
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
        links = [tag("a", "VENs", href="/console/vens"), tag("a", "Fleet", href="/console/fleet")]
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
    with_headers(response)
    return response


def fragment(body: Safe) -> web.Response:
    response = web.Response(text=str(body), content_type="text/html")
    with_headers(response)
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


def operator_principal(session: Session) -> Principal:
    # Console writes go through the service as business logic, named after the operator.
    return Principal(f"console:{session.user}", "bl")


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


def current_session(request: web.Request) -> Session | None:
    console = console_of(request)
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
                return with_headers(web.Response(status=401, text="log in first"))
            raise web.HTTPSeeOther("/console/login")
        return await handler(request, session)

    return wrapped


async def form_of(request: web.Request, session: Session, *, dispatch: bool) -> dict[str, str]:
    """The POSTed form, after the CSRF and role checks (403 otherwise)."""
    data = await request.post()
    token = data.get("csrf")
    if not session.csrf_ok(token if isinstance(token, str) else None):
        log.warning(
            "console: %s %s refused: missing or wrong CSRF token", request.method, request.path
        )
        raise forbidden_page(
            session,
            "The form's security token is missing or out of date: reload the page and try again.",
        )
    if dispatch and not session.may_dispatch:
        log.warning("console: %s may not dispatch (%s)", session.user, request.path)
        raise forbidden_page(session, "Your role (viewer) may look but not dispatch.")
    form: dict[str, str] = {}
    for key in data:
        values = [v for v in data.getall(key) if isinstance(v, str)]
        form[key] = ",".join(values) if key == "vens" else (values[-1] if values else "")
    return form


class PageError(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def forbidden_page(session: Session | None, message: str) -> PageError:
    body = tag("p", message, class_="error", role="alert")
    return PageError(html_page("Refused", body, session, page="error", status=403))


@web.middleware
async def console_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/console"):
        response: web.StreamResponse = await handler(request)
        return response
    try:
        response = await handler(request)
        return response
    except PageError as exc:
        return exc.response
    except ApiError as exc:
        body = tag("p", exc.detail, class_="error", role="alert")
        return html_page(
            "Not done", body, current_session(request), page="error", status=exc.status
        )

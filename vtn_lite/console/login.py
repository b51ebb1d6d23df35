"""Login and logout (docs/console.md "Logins and sessions")."""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import secrets

from aiohttp import web

from vtn_lite.console.pages import (
    console_of,
    form_of,
    html_page,
    page_handler,
)
from vtn_lite.console.render import Safe, render
from vtn_lite.console.sessions import COOKIE, LOGIN_COOKIE, Session
from vtn_lite.console.state import Console
from vtn_lite.console.users import UsersError

log = logging.getLogger(__name__)


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
    return _login_page(console_of(request))


async def login(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
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
    console_of(request).sessions.close(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(COOKIE, path="/console/")
    raise response

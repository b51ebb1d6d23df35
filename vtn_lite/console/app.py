"""Installs the console into the VTN's aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from vtn_lite.console.dispatch_pages import cancel_event, dispatch, dispatched, edit_event
from vtn_lite.console.live import live, root, static_file
from vtn_lite.console.login import login, login_form, logout
from vtn_lite.console.oadr2b_pages import oadr2b_action, oadr2b_page
from vtn_lite.console.pages import console_errors
from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.console.state import CONSOLE_KEY, Console
from vtn_lite.console.status_pages import (
    ven_events_fragment,
    ven_fragment,
    ven_groups,
    ven_page,
    ven_series,
    vens_fragment,
    vens_page,
)
from vtn_lite.http import CHECKIN_KEY
from vtn_lite.service import Vtn

if TYPE_CHECKING:
    from vtn_lite.planner.job import PlannerService


def install(
    app: web.Application,
    vtn: Vtn,
    settings: ConsoleSettings,
    *,
    clock: Callable[[], float],
    secure_cookies: bool,
    planner: PlannerService | None = None,
) -> Console:
    from vtn_lite.console import fleet_pages

    console = Console(vtn, settings, clock=clock, secure_cookies=secure_cookies)
    app[CONSOLE_KEY] = console
    if planner is not None:
        app[fleet_pages.PLANNER_KEY] = planner
    fleet_pages.add_routes(app)
    app[CHECKIN_KEY] = console.checked_in
    app.middlewares.append(console_errors)
    add_routes(app)

    async def flusher(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(console.flush_forever())
        yield
        console.stopping.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await console.flush_checkins()

    async def stop_live(_: web.Application) -> None:
        # Ends the server-sent event streams, which would otherwise hold the shutdown open.
        console.stopping.set()

    app.on_shutdown.append(stop_live)
    app.cleanup_ctx.append(flusher)
    return console


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
    app.router.add_get("/console/oadr2b", oadr2b_page)
    app.router.add_post("/console/oadr2b/{ven_name}/{action}", oadr2b_action)

"""Installs the console into the VTN's aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.console.views import CONSOLE_KEY, Console, add_routes, console_errors
from vtn_lite.http import CHECKIN_KEY
from vtn_lite.service import Vtn


def install(
    app: web.Application,
    vtn: Vtn,
    settings: ConsoleSettings,
    *,
    clock: Callable[[], float],
    secure_cookies: bool,
) -> Console:
    console = Console(vtn, settings, clock=clock, secure_cookies=secure_cookies)
    app[CONSOLE_KEY] = console
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
        console.flush_checkins()

    async def stop_live(_: web.Application) -> None:
        # Ends the server-sent event streams, which would otherwise hold the shutdown open.
        console.stopping.set()

    app.on_shutdown.append(stop_live)
    app.cleanup_ctx.append(flusher)
    return console

"""Live updates (server-sent events), the console's static files and its root."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Final

from aiohttp import web

from vtn_lite.console.pages import (
    console_of,
    page_handler,
    with_headers,
)
from vtn_lite.console.sessions import COOKIE, Session

STATIC: Final = Path(__file__).resolve().parent / "static"
# Debian's libjs-chart.js, as the gateway's status page serves it (docs/status-api.md).
CHARTJS_CANDIDATES: Final = (
    Path("/usr/share/javascript/chart.js/chart.min.js"),
    Path("/usr/share/javascript/chart.js/chart.js"),
)
#: How often the live stream looks for changes, and sends a keep-alive comment.
LIVE_TICK_S: Final = 1.0
LIVE_KEEPALIVE_S: Final = 15.0


@page_handler
async def live(request: web.Request, session: Session) -> web.StreamResponse:
    """Server-sent events: ``change`` whenever VENs, reports or check-ins changed."""
    console = console_of(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    seen = console.revision
    quiet = 0.0
    cookie = request.cookies.get(COOKIE)
    while not console.stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(console.stopping.wait(), LIVE_TICK_S)
        if not console.sessions.alive(cookie, console.clock()):
            break  # logged out or expired: the page's next fetch goes to the login
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
                return with_headers(
                    web.FileResponse(candidate, headers={"Content-Type": "text/javascript"})
                )
        return with_headers(
            web.Response(
                status=404, text="Chart.js is not installed: apt-get install libjs-chart.js"
            )
        )
    if name not in ("console.js", "console.css"):
        return with_headers(web.Response(status=404, text="no such file"))
    kind = "text/javascript" if name.endswith(".js") else "text/css"
    return with_headers(web.FileResponse(STATIC / name, headers={"Content-Type": kind}))


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/console/vens")

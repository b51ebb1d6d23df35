"""Serving aiohttp applications on 127.0.0.1 for the OpenADR 3 client tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.link import LinkTiming, TimelineCallback, VtnLink
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import WebhookReceiver


@asynccontextmanager
async def serving(
    app: web.Application, ssl_context: ssl.SSLContext | None = None, **handler_options: Any
) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yields ``http(s)://127.0.0.1:PORT``.

    ``handler_options`` go to aiohttp's request handler (e.g. ``lingering_time``)."""
    runner = web.AppRunner(app, **handler_options)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if ssl_context is not None else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def webhook_endpoint(
    receiver: WebhookReceiver, path: str = "/oadr3/notify", **handler_options: Any
) -> AsyncIterator[str]:
    """The receiver's routes on their own loopback server; yields the callback URL."""
    app = web.Application()
    receiver.add_routes(app, path)
    async with serving(app, **handler_options) as url:
        yield url + path


@dataclass
class MiniVtn:
    """A non-authenticating VTN (Def "Non-authenticating VTNs") serving the programs and events
    the test puts in its lists, unpaged. ``before_events_reply``, when set, is awaited after the
    GET /events answer has been taken from the list and before it is sent: a test can hold a poll
    there while something else happens."""

    programs: list[Any] = field(default_factory=lambda: [{"id": "p1", "programName": "tou"}])
    events: list[Any] = field(default_factory=list)
    event_gets: int = 0
    before_events_reply: Callable[[int], Awaitable[None]] | None = None
    base_url: str = ""

    async def _programs(self, request: web.Request) -> web.Response:
        return web.json_response(self.programs if request.query.get("skip") == "0" else [])

    async def _events(self, request: web.Request) -> web.Response:
        if request.query.get("skip") != "0":
            return web.json_response([])
        self.event_gets += 1
        body = json.dumps(self.events)  # the state at request time
        if self.before_events_reply is not None:
            await self.before_events_reply(self.event_gets)
        return web.Response(text=body, content_type="application/json")


@asynccontextmanager
async def mini_vtn(vtn: MiniVtn | None = None) -> AsyncIterator[MiniVtn]:
    state = vtn or MiniVtn()
    app = web.Application()
    app.router.add_get("/openadr3/3.1.0/programs", state._programs)
    app.router.add_get("/openadr3/3.1.0/events", state._events)
    async with serving(app) as url:
        state.base_url = url + "/openadr3/3.1.0"
        yield state


@asynccontextmanager
async def gateway(
    vtn: MiniVtn, token: str, now: datetime
) -> AsyncIterator[tuple[VtnClient, WebhookReceiver, str]]:
    """``vtn`` served, and a client of it (its wall clock stopped at ``now``) with its webhook
    endpoint accepting ``token``: yields (client, receiver, callback URL)."""
    async with mini_vtn(vtn):
        ven = VtnClient(VtnSettings(base_url=vtn.base_url), wall_clock=lambda: now)
        receiver = WebhookReceiver(token, client=ven)
        try:
            async with webhook_endpoint(receiver) as url:
                yield ven, receiver, url
        finally:
            await ven.close()


@asynccontextmanager
async def running_link(
    ven: VtnClient, receiver: WebhookReceiver, on_timeline: TimelineCallback
) -> AsyncIterator[tuple[VtnLink, asyncio.Task[None]]]:
    """A :class:`VtnLink` running with polls ten minutes apart, so that any poll seen within a
    test's timeout was made on purpose (a push, a retry), not by the interval."""
    link = VtnLink(
        ven,
        on_timeline=on_timeline,
        receiver=receiver,
        timing=LinkTiming(poll_s=600, poll_when_subscribed_s=600),
    )
    task = asyncio.create_task(link.run())
    try:
        yield link, task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

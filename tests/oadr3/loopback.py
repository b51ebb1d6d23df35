"""Serving aiohttp applications on 127.0.0.1 for the OpenADR 3 client tests."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from ven_edge.oadr3.webhook import WebhookReceiver


@asynccontextmanager
async def serving(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yields ``http(s)://127.0.0.1:PORT``."""
    runner = web.AppRunner(app)
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
    receiver: WebhookReceiver, path: str = "/oadr3/notify"
) -> AsyncIterator[str]:
    """The receiver's routes on their own loopback server; yields the callback URL."""
    app = web.Application()
    receiver.add_routes(app, path)
    async with serving(app) as url:
        yield url + path

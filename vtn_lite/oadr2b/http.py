"""The 2.0b face's HTTP server: simpleHttp on its own port (docs/vtn-lite-2.0b.md).

``POST {path}/{service}`` for the five 2.0b services; the body goes to :class:`Face`. With
mutual TLS the client certificate's fingerprint identifies the VEN (openleadr's form: the last
10 bytes of SHA-256 over the DER certificate); lab mode serves plain HTTP on loopback only.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from aiohttp import web

from ven_edge.oadr2b.tlsconf import fingerprint
from vtn_lite.oadr2b.face import Face
from vtn_lite.oadr2b.settings import Oadr2bSettings

log = logging.getLogger(__name__)

SERVICES: Final = frozenset({"EiRegisterParty", "OadrPoll", "EiEvent", "EiReport", "EiOpt"})
XML: Final = "application/xml"


def peer_fingerprint(request: web.Request) -> str | None:
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return fingerprint(der) if der else None


def build_app(face: Face) -> web.Application:
    settings = face.settings
    app = web.Application(client_max_size=settings.max_body_bytes)

    async def serve(request: web.Request) -> web.Response:
        service = request.match_info["service"]
        peer = request.remote or "?"
        if service not in SERVICES:
            log.warning("2.0b request from %s for unknown service %r", peer, service[:64])
            raise web.HTTPNotFound(text=f"no 2.0b service {service[:64]}")
        fingerprint = peer_fingerprint(request)
        if settings.tls and fingerprint is None:
            # Cannot happen with CERT_REQUIRED; refuse rather than trust an unnamed peer.
            raise web.HTTPForbidden(text="a client certificate is required")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("2.0b request from %s larger than %d bytes", peer, settings.max_body_bytes)
            raise
        answer = await face.handle(body, fingerprint=fingerprint, peer=peer)
        return web.Response(body=answer.body, status=answer.status, content_type=XML)

    app.router.add_post(f"{settings.path}/{{service}}", serve)
    return app


def tls_context(settings: Oadr2bSettings) -> ssl.SSLContext | None:
    """Mutual TLS, TLS 1.2 or later (rules 67, 68); ``None`` in lab mode."""
    if settings.tls_cert is None or settings.tls_key is None or settings.tls_ca is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=settings.tls_ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


@asynccontextmanager
async def serving(face: Face) -> AsyncIterator[str]:
    """Serve the face on its host and port; yields the base URL (port 0: a free one)."""
    settings = face.settings
    runner = web.AppRunner(build_app(face), access_log=None)
    await runner.setup()
    try:
        context = tls_context(settings)
        site = web.TCPSite(runner, settings.host, settings.port, ssl_context=context)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else settings.port
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        scheme = "https" if context is not None else "http"
        yield f"{scheme}://{host}:{port}{settings.path}"
    finally:
        await runner.cleanup()

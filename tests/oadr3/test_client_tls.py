"""TLS toward the VTN: verification on by default, a CA file for a LAN VTN, opt-out explicit."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import make_certificate
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import VtnUnreachableError
from ven_edge.oadr3.vtnhttp import VtnSettings

from .loopback import serving


@pytest.fixture
async def tls_vtn(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def programs(_: web.Request) -> web.Response:
        return web.json_response([{"id": "p1", "programName": "tou"}])

    app = web.Application()
    app.router.add_get("/openadr3/3.1.0/programs", programs)
    async with serving(app, context) as url:
        yield f"{url}/openadr3/3.1.0", cert


async def test_unknown_certificate_is_refused_by_default(tls_vtn: tuple[str, Path]) -> None:
    url, _ = tls_vtn
    async with VtnClient(VtnSettings(base_url=url)) as ven:
        with pytest.raises(VtnUnreachableError, match="TLS verification failed"):
            await ven.fetch_programs()


async def test_ca_file_or_explicit_opt_out_accepts_it(tls_vtn: tuple[str, Path]) -> None:
    url, cert = tls_vtn
    async with VtnClient(VtnSettings(base_url=url, ca_file=str(cert))) as ven:
        assert [p["id"] for p in await ven.fetch_programs()] == ["p1"]
    async with VtnClient(VtnSettings(base_url=url, verify_tls=False)) as ven:
        assert [p["id"] for p in await ven.fetch_programs()] == ["p1"]

"""No secret of vtn.url, no client secret and no bearer token in any log line of a start-up
whose token requests fail, down to DEBUG."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import free_port, wait_for
from tests.oadr3.loopback import serving
from ven_edge.config import parse_config
from ven_edge.run import Parts, serve

from .stub_heater import StubHeater

BASE = "/openadr3/3.1.0"
SECRETS = ("vtnuser", "S3cretPw", "K3yValue", "Cl1entS3cret", "T0kenValue")


class FakeVtn:
    """Refuses the first token request; then hands out a token it refuses, echoing it back."""

    def __init__(self) -> None:
        self.token_requests: list[str] = []
        self.authorizations: list[tuple[str, str | None]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"{BASE}/auth/token", self.token)
        app.router.add_route("*", BASE + "/{rest:.*}", self.api)
        return app

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests.append(request.path_qs)
        if len(self.token_requests) == 1:
            return web.json_response(
                {"error": "invalid_client", "error_description": "try again"}, status=401
            )
        return web.json_response({"access_token": "T0kenValue", "expires_in": 3600})

    async def api(self, request: web.Request) -> web.Response:
        if request.path.endswith("/auth/server"):
            return web.json_response({"title": "Not Found", "status": 404}, status=404)
        self.authorizations.append((request.path, request.headers.get("Authorization")))
        problem = {
            "title": "Unauthorized",
            "status": 401,
            "detail": "refused " + str(request.headers.get("Authorization")),
        }
        return web.json_response(problem, status=401)


async def test_no_secret_in_any_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vtn = FakeVtn()
    async with serving(vtn.app()) as origin:
        url = origin.replace("http://", "http://vtnuser:S3cretPw@") + BASE + "?apikey=K3yValue"
        data: dict[str, Any] = {
            "heater": {"port": str(tmp_path / "no-such-tty")},
            "state": {"dir": str(tmp_path / "state")},
            "web": {"enabled": True, "host": "127.0.0.1", "port": free_port()},
            "vtn": {
                "url": url,
                "client_id": "ven_client",
                "client_secret": "Cl1entS3cret",
                "poll_interval_s": 5,
            },
        }
        config = parse_config(data, source="test", base_dir=tmp_path)
        stop = asyncio.Event()
        ready: list[Parts] = []

        async def started(parts: Parts) -> None:
            ready.append(parts)

        task = asyncio.create_task(serve(config, heater=StubHeater(), stop=stop, started=started))
        try:
            await wait_for(lambda: len(vtn.token_requests) >= 3, 30, "token requests")
            await wait_for(
                lambda: (
                    bool(ready)
                    and ready[0].grid is not None
                    and ready[0].grid.health().last_error is not None
                ),
                30,
                "a failed cycle",
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    # The token URL fallback is the base path + /auth/token, the query kept as the query.
    assert vtn.token_requests[0] == f"{BASE}/auth/token?apikey=K3yValue"
    # With a token, the token is the credential: not the URL's user and password.
    registrations = [auth for path, auth in vtn.authorizations if path == f"{BASE}/vens"]
    assert registrations
    assert set(registrations) == {"Bearer T0kenValue"}
    # Every line but the fake VTN's own access log (the gateway's servers keep theirs off).
    lines = [caplog.handler.format(r) for r in caplog.records if r.name != "aiohttp.access"]
    assert any("/auth/token" in line for line in lines)  # the fallback was logged
    for line in lines:
        for secret in SECRETS:
            assert secret not in line, line

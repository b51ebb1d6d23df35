"""Where the console runs: off unless configured, users from the configured file, Secure
cookies under TLS."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import aiohttp

from tests.conftest import make_certificate
from tests.console.console_site import csrf_of, jar
from tests.vtn_lite.conftest import make_config
from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.console.users import make_user, write_users
from vtn_lite.server import running_vtn


async def test_a_production_configuration_serves_no_console(tmp_path: Path) -> None:
    async with running_vtn(make_config()) as vtn, aiohttp.ClientSession() as http:
        assert vtn.parts.console is None
        async with http.get(f"{vtn.url}/console/login") as response:
            assert response.status == 404


async def test_under_tls_the_session_cookie_is_secure(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    users = tmp_path / "users.json"
    write_users(users, (make_user("alice", "correct horse", "dispatcher", scrypt_n=2**4),))
    console = ConsoleSettings(users_file=str(users))
    config = replace(make_config(tls_cert=str(cert), tls_key=str(key)), console=console)
    trusted = ssl.create_default_context(cafile=str(cert))
    async with (
        running_vtn(config) as vtn,
        aiohttp.ClientSession(
            cookie_jar=jar(), connector=aiohttp.TCPConnector(ssl=trusted)
        ) as http,
    ):
        async with http.get(f"{vtn.url}/console/login") as page:
            assert "Secure" in page.headers["Set-Cookie"]
            token = csrf_of(await page.text())
        async with http.post(
            f"{vtn.url}/console/login",
            data={"user": "alice", "password": "correct horse", "csrf": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            cookie = response.headers.getall("Set-Cookie")
            session = [c for c in cookie if c.startswith("vtn_console=")]
            assert session
            assert "Secure" in session[0]
            assert "HttpOnly" in session[0]
            assert "SameSite=Strict" in session[0]

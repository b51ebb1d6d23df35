"""A vtn_lite with its console on 127.0.0.1, and a logged-in HTTP client for the console."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp

from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.server import RunningVtn, demo_config, running_vtn

DISPATCHER = ("operator", "operator-demo")
VIEWER = ("viewer", "viewer-demo")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, page[:500]
    return found.group(1)


@asynccontextmanager
async def console_vtn(
    tmp_path: Path,
    *,
    clock: Callable[[], float] | None = None,
    fleet: int = 0,
    settings: ConsoleSettings | None = None,
) -> AsyncIterator[RunningVtn]:
    config = demo_config(tmp_path, port=0, scrypt_n=2**4, fleet=fleet, console=settings)
    config = replace(config, database=str(tmp_path / "vtn.sqlite"))
    kwargs = {} if clock is None else {"clock": clock}
    async with running_vtn(config, **kwargs) as vtn:
        yield vtn


async def login(
    session: aiohttp.ClientSession, url: str, user: str, password: str
) -> aiohttp.ClientResponse:
    async with session.get(f"{url}/console/login") as page:
        token = csrf_of(await page.text())
    response = await session.post(
        f"{url}/console/login",
        data={"user": user, "password": password, "csrf": token},
        allow_redirects=False,
    )
    await response.read()
    return response


def jar() -> aiohttp.CookieJar:
    # Cookies for 127.0.0.1 (aiohttp's default jar drops cookies of IP addresses).
    return aiohttp.CookieJar(unsafe=True)

"""Callback hosts are checked in the form the connection uses: look-alike spellings of local
addresses are refused before anything connects, and names must resolve to public addresses only.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.vtn_lite.conftest import Api, get_token, make_config
from vtn_lite.netguard import CallbackRefused, GuardedResolver, check_callback_url
from vtn_lite.server import running_vtn

LOOK_ALIKES = ("①②⑦.0.0.1", "１２７.0.0.1", "127。0.0.1", "127．0．0．1", "127｡0｡0｡1")


@asynccontextmanager
async def counting_listener() -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""
    accepted: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, accepted
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("host", LOOK_ALIKES)
async def test_look_alike_local_hosts_are_refused_before_connecting(
    session: aiohttp.ClientSession, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        counting_listener() as (port, accepted),
        running_vtn(make_config(allow_local_callbacks=False)) as server,
    ):
        api = Api(
            session, server.base_url, {"ven": await get_token(session, server.base_url, "ven")}
        )
        body = {
            "clientName": "probe",
            "objectOperations": [
                {
                    "objects": ["EVENT"],
                    "operations": ["POST"],
                    "callbackUrl": f"https://{host}:{port}/cb",
                }
            ],
        }
        with caplog.at_level(logging.WARNING, logger="vtn_lite.netguard"):
            status, problem = await api.call("POST", "/subscriptions", "ven", body)
        assert status == 400, problem
        assert "look-alike" in problem["detail"]
        assert "127.0.0.1" in problem["detail"]
        assert accepted == []  # nothing reached the local listener
        assert any("look-alike" in record.getMessage() for record in caplog.records)
        assert await api.ok("GET", "/subscriptions", "ven") == []


@pytest.mark.parametrize("host", ["127.1", "2130706433", "127.0.0.1.", "127.0.0.01"])
def test_non_canonical_numeric_hosts_are_refused(host: str) -> None:
    # The C library reads these as addresses; only canonical literals are checked as such.
    with pytest.raises(CallbackRefused):
        check_callback_url(f"https://{host}/cb", allow_local=True)


def test_full_width_names_are_checked_in_ascii() -> None:
    assert check_callback_url("https://ｅｘａｍｐｌｅ.org/cb", allow_local=False) == "example.org"
    for host in LOOK_ALIKES:
        with pytest.raises(CallbackRefused, match="look-alike"):
            check_callback_url(f"https://{host}/cb", allow_local=True)


class FixedResolver(AbstractResolver):
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls += 1
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_a_name_with_any_private_address_is_refused() -> None:
    # A mixed answer (public and loopback) is how rebinding gets a foot in: refuse it whole.
    resolver = GuardedResolver(allow_local=False, inner=FixedResolver("93.184.216.34", "127.0.0.1"))
    with pytest.raises(OSError, match=r"127\.0\.0\.1"):
        await resolver.resolve("rebind.example", 443)
    public = FixedResolver("93.184.216.34")
    checked = await GuardedResolver(allow_local=False, inner=public).resolve("example.org", 443)
    assert [r["host"] for r in checked] == ["93.184.216.34"]
    assert public.calls == 1

"""A vtn_lite with its 2.0b face, and openleadr's OpenADRClient as the 2.0b VEN peer.

The throw-away PKI is tests/oadr2b/peer.py's: a CA, a VTN certificate for 127.0.0.1, the VEN's
and a rogue one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp
from openleadr.messaging import create_message

from tests.oadr2b.schema import assert_valid
from tests.vtn_lite.conftest import Api, get_token, make_config
from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.oadr2b.face import Answer, Face
from vtn_lite.oadr2b.settings import Oadr2bSettings
from vtn_lite.server import RunningVtn, running_vtn

LAB = Oadr2bSettings(port=0, lab_plain_http=True, auto_approve=True, poll_interval=1.0)


def party_registration(name: str, *, pull: bool = True) -> str:
    """openleadr's oadrCreatePartyRegistration for venName ``name`` (2.0b, simpleHttp)."""
    return str(
        create_message(
            "oadrCreatePartyRegistration",
            request_id="r1",
            ven_name=name,
            http_pull_model=pull,
            xml_signature=False,
            report_only=False,
            profile_name="2.0b",
            transport_name="simpleHttp",
            transport_address=None if pull else "http://127.0.0.1:1/",
        )
    )


@asynccontextmanager
async def vtn_with_2b(
    settings: Oadr2bSettings = LAB, **overrides: Any
) -> AsyncIterator[tuple[RunningVtn, Api]]:
    config = make_config(oadr2b=settings, console=ConsoleSettings(), **overrides)
    async with running_vtn(config) as running, aiohttp.ClientSession() as session:
        assert running.parts.oadr2b is not None
        validate_answers(running.parts.oadr2b)
        tokens = {who: await get_token(session, running.base_url, who) for who in ("bl", "ven")}
        yield running, Api(session, running.base_url, tokens)


def validate_answers(face: Face) -> list[bytes]:
    """Check every answer the face sends against the 2.0b XSD; returns the answers seen."""
    handle = face.handle
    sent: list[bytes] = []

    async def checked(body: bytes, *, fingerprint: str | None, peer: str = "") -> Answer:
        answer = await handle(body, fingerprint=fingerprint, peer=peer)
        assert_valid(answer.body)
        sent.append(answer.body)
        return answer

    face.handle = checked  # type: ignore[method-assign]
    return sent


async def wait_for(check: Callable[[], Any]) -> Any:
    """Poll ``check`` until it returns something true, for a minute at most (a loaded
    machine's margin)."""
    async with asyncio.timeout(60.0):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.05)


async def simple_event(
    api: Api, level: int, *, start: str, targets: list[str] | None = None
) -> Any:
    program = await api.ok("POST", "/programs", body={"programName": f"p-{level}-{start}"})
    body: dict[str, Any] = {
        "programID": program["id"],
        "eventName": "peak",
        "intervalPeriod": {"start": start, "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [level]}]}],
    }
    if targets:
        body["targets"] = targets
    return await api.ok("POST", "/events", body=body)


def with_settings(**changes: Any) -> Oadr2bSettings:
    return replace(LAB, **changes)

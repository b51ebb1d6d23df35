"""A vtn_lite with its 2.0b face, and openleadr's OpenADRClient as the 2.0b VEN peer.

The PKI is throw-away (openssl, as in the openadr2b digest §3.2): a CA, a VTN certificate for
127.0.0.1 and two VEN certificates (the second one to be the wrong one).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from tests.oadr2b.schema import assert_valid
from tests.vtn_lite.conftest import Api, get_token, make_config
from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.oadr2b.face import Answer, Face
from vtn_lite.oadr2b.settings import Oadr2bSettings
from vtn_lite.server import RunningVtn, running_vtn

LAB = Oadr2bSettings(port=0, lab_plain_http=True, auto_approve=True, poll_interval=1.0)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(directory: Path) -> Path:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=Test Root",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    for name, san in (
        ("vtn", "DNS:localhost,IP:127.0.0.1"),
        ("ven", "DNS:wh-ven.test"),
        ("other", "DNS:other-ven.test"),
    ):
        (directory / f"{name}.ext").write_text(
            f"subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\n"
        )
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-sha256",
            "-extfile", f"{name}.ext",
            cwd=directory,
        )  # fmt: skip
    return directory


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

"""openleadr 0.5.36's OpenADRServer as the utility's 2.0b VTN (digest §3.2), plain or mTLS."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from openleadr import OpenADRServer, hooks
from openleadr.utils import certificate_fingerprint

from tests.conftest import free_port

VEN_ID = "VEN_WH_1"
VEN_NAME = "wh_ven"
VTN_ID = "UTILITY_VTN"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(directory: Path) -> Path:
    """A throw-away CA with VTN, VEN and rogue certificates (no passphrases)."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=Test Root",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory,
    )  # fmt: skip
    for name, san in (
        ("vtn", "DNS:localhost,IP:127.0.0.1"),
        ("rogue", "DNS:localhost,IP:127.0.0.1"),
        ("ven", "DNS:wh-ven.test"),
    ):
        (directory / f"{name}.ext").write_text(
            f"subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\n"
        )
        _openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-sha256",
            "-extfile", f"{name}.ext", cwd=directory,
        )  # fmt: skip
        (directory / f"{name}.key").chmod(0o600)
    return directory


def fingerprint_of(cert: Path) -> str:
    return str(certificate_fingerprint(cert.read_text()))


@dataclass
class UtilityVtn:
    server: OpenADRServer
    url: str
    opts: list[tuple[str, str, str]] = field(default_factory=list)
    reports: list[tuple[str, Any]] = field(default_factory=list)
    registered_reports: list[str] = field(default_factory=list)

    async def on_opt(self, ven_id: str, event_id: str, opt_type: str) -> None:
        """add_event's callback: openleadr calls it for the first answer only."""

    async def on_message(self, message_type: str, payload: dict[str, Any]) -> None:
        """Every oadrCreatedEvent the VTN handles, later optOuts included (openleadr's hook)."""
        if message_type == "oadrCreatedEvent":
            for response in payload.get("event_responses", []):
                self.opts.append((payload["ven_id"], response["event_id"], response["opt_type"]))


async def utility_vtn(
    pki: Path | None, *, poll: timedelta = timedelta(seconds=1), vtn_cert: str = "vtn"
) -> AsyncIterator[UtilityVtn]:
    """Run openleadr's VTN; mutual TLS with signatures when ``pki`` is given."""
    port = free_port()
    ven: dict[str, Any] = {
        "ven_id": VEN_ID,
        "ven_name": VEN_NAME,
        "registration_id": "REG_1",
        "fingerprint": fingerprint_of(pki / "ven.crt") if pki else None,
    }
    kwargs: dict[str, Any] = {
        "vtn_id": VTN_ID,
        "http_host": "127.0.0.1",
        "http_port": port,
        "requested_poll_freq": poll,
        "ven_lookup": lambda ven_id: ven if ven_id == VEN_ID else None,
    }
    if pki is not None:
        cert, key = str(pki / f"{vtn_cert}.crt"), str(pki / f"{vtn_cert}.key")
        kwargs.update(
            http_cert=cert, http_key=key, http_ca_file=str(pki / "ca.crt"), cert=cert, key=key
        )
    server = OpenADRServer(**kwargs)
    scheme = "https" if pki else "http"
    peer = UtilityVtn(server, f"{scheme}://127.0.0.1:{port}/OpenADR2/Simple/2.0b")

    async def on_create_party_registration(info: dict[str, Any]) -> Any:
        if info["ven_name"] != VEN_NAME:
            return False
        if pki is not None and info.get("fingerprint") != ven["fingerprint"]:
            return False
        return VEN_ID, ven["registration_id"]

    async def on_register_report(
        ven_id: str, resource_id: str, measurement: str, unit: str, scale: str,
        min_sampling_interval: timedelta, max_sampling_interval: timedelta,
    ) -> Any:  # fmt: skip
        peer.registered_reports.append(measurement)
        if measurement == "Status":
            # openleadr's update_report reads a float from every payload and raises on the
            # oadrPayloadResourceStatus of TELEMETRY_STATUS (digest §4: status reports are not
            # supported): so it is not requested from this peer.
            return None

        async def collect(data: Any) -> None:
            peer.reports.append((measurement, data))

        return collect, min_sampling_interval

    server.add_handler("on_create_party_registration", on_create_party_registration)
    server.add_handler("on_register_report", on_register_report)
    hooks.register("before_handle", peer.on_message)
    await server.run()
    try:
        yield peer
    finally:
        await server.stop()
        hooks.HOOKS["before_handle"].remove(peer.on_message)


#: ``async with running_vtn(pki) as vtn:`` for tests that need no fixture.
running_vtn = contextlib.asynccontextmanager(utility_vtn)

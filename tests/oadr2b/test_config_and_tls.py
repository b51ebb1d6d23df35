"""2.0b configuration (mutual TLS required over https, lab mode only on loopback, key files
checked like secrets) and the TLS pin: a VTN certificate from the right CA but with another
fingerprint is refused before any message is sent."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import wait_for
from tests.oadr2b.peer import VEN_NAME, fingerprint_of, make_pki, running_vtn
from ven_edge.config import ConfigError, parse_config
from ven_edge.oadr2b.tlsconf import fingerprint, is_fingerprint
from ven_edge.oadr2b_port import build_oadr2b_grid
from ven_edge.store import StateStore


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _mtls(pki: Path, **changes: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "protocol": "2.0b",
        "url": "https://vtn.example.com/OpenADR2/Simple/2.0b",
        "ca_file": str(pki / "ca.crt"),
        "oadr2b": {
            "client_cert": str(pki / "ven.crt"),
            "client_key": str(pki / "ven.key"),
            "vtn_fingerprint": fingerprint_of(pki / "vtn.crt"),
        },
    }
    section["oadr2b"].update(changes)
    return {"vtn": section}


def test_complete_mtls_configuration_is_accepted(pki: Path) -> None:
    config = parse_config(_mtls(pki))
    assert config.vtn.protocol == "2.0b"
    assert config.vtn.oadr2b.signatures


def test_https_without_the_tls_pieces_names_each_missing_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"vtn": {"protocol": "2.0b", "url": "https://vtn.example.com/2.0b"}})
    text = str(caught.value)
    for key in ("vtn.ca_file", "client_cert", "client_key", "vtn_fingerprint"):
        assert key in text


def test_bad_fingerprint_is_refused(pki: Path) -> None:
    with pytest.raises(ConfigError, match="10 colon-separated hex bytes"):
        parse_config(_mtls(pki, vtn_fingerprint="AA:BB"))


@given(st.binary(max_size=64))
@settings(max_examples=60)
def test_every_computed_fingerprint_has_the_checked_form(der: bytes) -> None:
    written = fingerprint(der)
    assert is_fingerprint(written)
    assert is_fingerprint(f"  {written.lower()}\n")  # case and surrounding blanks aside


@given(st.text(alphabet="0123456789abcdefABCDEFg: \n\u0661\uff10", max_size=40))
@settings(max_examples=200)
def test_anything_the_check_accepts_is_ten_hex_bytes(text: str) -> None:
    if is_fingerprint(text):
        parts = text.strip().split(":")
        assert len(parts) == 10
        assert all(len(p) == 2 and p.isascii() for p in parts)
        assert len(bytes.fromhex("".join(parts))) == 10


@pytest.mark.parametrize(
    "text",
    [
        "",
        "AA:BB",
        "ED:10:3F:AA:1F:1A:75:F8:F3",  # nine bytes
        "ED:10:3F:AA:1F:1A:75:F8:F3:81:00",  # eleven
        "ED:10:3F:AA:1F:1A:75:F8:F3:81:",
        "ED103FAA1F1A75F8F381",
        "ED:10:3F:AA:1F:1A:75:F8:F3:8G",
        "ED:10:3F:AA:1F:1A:75:F8:F3:\u0661\u0661",  # digits, but not ASCII hex
        "ED:10:3F:AA:1F\n:1A:75:F8:F3:81",
    ],
)
def test_malformed_fingerprints_are_not_fingerprints(text: str) -> None:
    assert not is_fingerprint(text)


def test_fingerprint_in_lower_case_or_with_blanks_is_accepted(pki: Path) -> None:
    written = f" {fingerprint_of(pki / 'vtn.crt').lower()}\n"
    assert parse_config(_mtls(pki, vtn_fingerprint=written)).vtn.oadr2b.vtn_fingerprint
    with pytest.raises(ConfigError, match="10 colon-separated hex bytes"):
        parse_config(_mtls(pki, vtn_fingerprint=written.strip() + ":00"))


def test_key_readable_by_others_is_refused_with_the_chmod(pki: Path, tmp_path: Path) -> None:
    key = tmp_path / "ven.key"
    key.write_bytes((pki / "ven.key").read_bytes())
    key.chmod(0o644)
    with pytest.raises(ConfigError, match=r"chmod 0640"):
        parse_config(_mtls(pki, client_key=str(key)))


def test_lab_mode_is_refused_for_other_hosts() -> None:
    with pytest.raises(ConfigError, match="plain http is only allowed to this machine"):
        parse_config({"vtn": {"protocol": "2.0b", "url": "http://vtn.example.com/2.0b"}})
    parse_config({"vtn": {"protocol": "2.0b", "url": "http://127.0.0.1:8080/2.0b"}})


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ConfigError, match=r'must be one of "3", "2\.0b"'):
        parse_config({"vtn": {"protocol": "2.0a"}})


async def test_vtn_with_another_fingerprint_is_refused(pki: Path, tmp_path: Path) -> None:
    """The rogue certificate is signed by the same CA: only the fingerprint tells them apart."""
    async with running_vtn(pki, vtn_cert="rogue") as vtn:
        data = _mtls(pki)
        data["vtn"].update(url=vtn.url, ven_name=VEN_NAME)
        config = parse_config(data)
        port = build_oadr2b_grid(
            config.vtn, StateStore(tmp_path / "state"), lambda: datetime.now(UTC), "wh"
        )
        task = asyncio.create_task(port.run())
        try:
            await wait_for(lambda: port.health().last_error is not None, 30, "the refusal")
            health = port.health()
            assert "fingerprint" in (health.last_error or "")
            assert fingerprint_of(pki / "rogue.crt") in (health.last_error or "")
            assert not health.ok
            assert health.ven_id is None
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await port.stop()

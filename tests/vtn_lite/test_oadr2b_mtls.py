"""The 2.0b face over mutual TLS with XML signatures both ways, against openleadr's client;
wrong certificates and bad signatures are refused with 463."""

from __future__ import annotations

import logging
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree
from openleadr import OpenADRClient
from openleadr.messaging import create_message

from tests.oadr2b.peer import fingerprint_of, make_pki
from tests.oadr2b.schema import assert_valid
from tests.vtn_lite.oadr2b_peer import simple_event, vtn_with_2b, wait_for
from ven_edge.oadr2b.ns import EI, q
from vtn_lite.oadr2b.settings import Oadr2bSettings


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _settings(pki: Path) -> Oadr2bSettings:
    return Oadr2bSettings(
        port=0,
        tls_cert=str(pki / "vtn.crt"),
        tls_key=str(pki / "vtn.key"),
        tls_ca=str(pki / "ca.crt"),
        auto_approve=True,
        poll_interval=1.0,
        fingerprints={"wh_ven": fingerprint_of(pki / "ven.crt")},
    )


def _client(pki: Path, url: str, cert: str = "ven") -> OpenADRClient:
    return OpenADRClient(
        ven_name="wh_ven",
        vtn_url=url,
        cert=str(pki / f"{cert}.crt"),
        key=str(pki / f"{cert}.key"),
        ca_file=str(pki / "ca.crt"),
        vtn_fingerprint=fingerprint_of(pki / "vtn.crt"),
    )


def _start() -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    return moment.isoformat().replace("+00:00", "Z")


async def test_signed_event_exchange_over_mutual_tls(pki: Path) -> None:
    async with vtn_with_2b(_settings(pki)) as (running, api):
        assert running.oadr2b_url is not None
        assert running.oadr2b_url.startswith("https://")
        received: list[dict[str, Any]] = []

        async def on_event(event: dict[str, Any]) -> str:
            received.append(event)
            return "optIn"

        client = _client(pki, running.oadr2b_url)
        client.add_handler("on_event", on_event)
        await simple_event(api, 1, start=_start())
        try:
            await client.run()
            assert client.registration_id is not None  # the VTN's signature was accepted
            await wait_for(lambda: received)
            assert received[0]["event_signals"][0]["intervals"][0]["signal_payload"] == 1.0
            store = running.parts.store

            async def opted() -> Any:
                return await store.oadr2b_records("opt", ven_id=client.ven_id)

            await wait_for(opted)  # the VEN's signed oadrCreatedEvent was accepted
            registration = await store.oadr2b_registration("wh_ven")
            assert registration is not None
            assert registration.fingerprint == fingerprint_of(pki / "ven.crt")
        finally:
            await client.stop()


async def test_a_certificate_that_is_not_the_vens_is_refused(pki: Path, caplog: Any) -> None:
    async with vtn_with_2b(_settings(pki)) as (running, _api):
        assert running.oadr2b_url is not None
        client = _client(pki, running.oadr2b_url, cert="rogue")
        with caplog.at_level(logging.WARNING):
            await client.run()
        await client.stop()
        assert client.registration_id is None
        assert "463" in caplog.text
        assert "is not the one of wh_ven" in caplog.text
        assert await running.parts.store.oadr2b_registration("wh_ven") is None


async def test_a_tampered_signed_message_is_refused_with_463(pki: Path, caplog: Any) -> None:
    async with vtn_with_2b(_settings(pki)) as (running, _api):
        url = running.oadr2b_url
        assert url is not None
        client = _client(pki, url)
        await client.run()
        await client.stop()
        ven_id = client.ven_id
        signed = create_message(
            "oadrPoll",
            ven_id=ven_id,
            cert=(pki / "ven.crt").read_bytes(),
            key=(pki / "ven.key").read_bytes(),
        )
        tampered = signed.replace(f"<ei:venID>{ven_id}</ei:venID>", "<ei:venID>x</ei:venID>")
        assert tampered != signed
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "ven.crt"), str(pki / "ven.key"))
        connector = aiohttp.TCPConnector(ssl=context)
        async with aiohttp.ClientSession(connector=connector) as session:
            with caplog.at_level(logging.WARNING):
                async with session.post(f"{url}/OadrPoll", data=tampered) as answer:
                    body = await answer.read()
            assert_valid(body)
            code = etree.fromstring(body).find(f".//{q(EI, 'responseCode')}")
            assert code is not None
            assert code.text == "463"
            assert "XML signature refused" in caplog.text
            # The same message untampered is accepted: the refusal was the signature's.
            async with session.post(f"{url}/OadrPoll", data=signed) as answer:
                body = await answer.read()
            code = etree.fromstring(body).find(f".//{q(EI, 'responseCode')}")
            assert code is not None
            assert code.text == "200"

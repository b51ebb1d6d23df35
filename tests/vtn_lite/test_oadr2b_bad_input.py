"""What the 2.0b face does with input it cannot use: a logged reason, the profile's response
code, and the last good state kept (docs/vtn-lite-2.0b.md "Errors")."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from lxml import etree
from openleadr.messaging import create_message

from tests.oadr2b.schema import assert_valid
from tests.vtn_lite.oadr2b_peer import (
    party_registration,
    simple_event,
    vtn_with_2b,
    with_settings,
)
from ven_edge.oadr2b.ns import EI, OADR, q
from vtn_lite.oadr2b.face import MAX_REPEATS


def _start() -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    return moment.isoformat().replace("+00:00", "Z")


async def _post(url: str, service: str, body: bytes | str) -> tuple[int, etree._Element | None]:
    data = body.encode() if isinstance(body, str) else body
    async with aiohttp.ClientSession() as session, session.post(f"{url}/{service}", data=data) as r:
        raw = await r.read()
    if r.content_type != "application/xml":
        return r.status, None
    assert_valid(raw)
    return r.status, etree.fromstring(raw)


def _code(answer: etree._Element | None) -> int:
    assert answer is not None
    node = answer.find(f".//{q(EI, 'responseCode')}")
    assert node is not None
    return int(node.text or "0")


def _message_name(answer: etree._Element | None) -> str:
    assert answer is not None
    signed = answer.find(q(OADR, "oadrSignedObject"))
    assert signed is not None
    return str(etree.QName(signed[0]).localname)


async def _register(url: str, name: str) -> str:
    status, answer = await _post(url, "EiRegisterParty", party_registration(name))
    assert status == 200
    assert answer is not None
    ven_id = answer.find(f".//{q(EI, 'venID')}")
    assert ven_id is not None
    return str(ven_id.text)


def _poll(ven_id: str) -> str:
    return str(create_message("oadrPoll", ven_id=ven_id))


async def test_malformed_xml_is_refused_with_400_and_the_ven_keeps_its_events(
    caplog: Any,
) -> None:
    async with vtn_with_2b() as (running, api):
        url = running.oadr2b_url
        assert url is not None
        ven_id = await _register(url, "ven_a")
        with caplog.at_level(logging.WARNING):
            status, answer = await _post(url, "OadrPoll", b"<oadrPayload><unclosed>")
        assert status == 400
        assert _code(answer) == 400
        assert "malformed" in caplog.text
        status, answer = await _post(
            url, "OadrPoll", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
        )
        assert (status, _code(answer)) == (400, 400)
        await simple_event(api, 1, start=_start())
        status, answer = await _post(url, "OadrPoll", _poll(ven_id))
        assert _message_name(answer) == "oadrDistributeEvent"


async def test_unknown_ven_gets_452_and_a_wrong_message_453(caplog: Any) -> None:
    async with vtn_with_2b() as (running, _api):
        url = running.oadr2b_url
        assert url is not None
        with caplog.at_level(logging.WARNING):
            status, answer = await _post(url, "OadrPoll", _poll("no-such-ven"))
        assert status == 200
        assert _code(answer) == 452
        assert "venID no-such-ven is not registered" in caplog.text
        distribute = create_message(
            "oadrDistributeEvent", request_id="x", vtn_id="X", events=[], response={}
        )
        status, answer = await _post(url, "EiEvent", distribute)
        assert _code(answer) == 453


async def test_oversized_body_is_refused_before_it_is_read() -> None:
    async with vtn_with_2b(with_settings(max_body_bytes=4096)) as (running, _api):
        url = running.oadr2b_url
        assert url is not None
        status, _answer = await _post(url, "OadrPoll", b"<a>" + b"x" * 8192 + b"</a>")
        assert status == 413


async def test_push_only_or_other_profiles_are_not_allowed() -> None:
    async with vtn_with_2b() as (running, _api):
        url = running.oadr2b_url
        assert url is not None
        message = party_registration("pusher", pull=False)
        _status, answer = await _post(url, "EiRegisterParty", message)
        assert _code(answer) == 451
        assert await running.parts.store.oadr2b_registration("pusher") is None


async def test_opt_for_an_unknown_event_is_452_and_not_stored() -> None:
    async with vtn_with_2b() as (running, _api):
        url = running.oadr2b_url
        assert url is not None
        ven_id = await _register(url, "ven_b")
        message = create_message(
            "oadrCreatedEvent",
            response={"response_code": 200, "response_description": "OK", "request_id": None},
            event_responses=[
                {
                    "response_code": 200,
                    "response_description": "OK",
                    "request_id": "d1",
                    "event_id": "made-up",
                    "modification_number": 0,
                    "opt_type": "optIn",
                }
            ],
            ven_id=ven_id,
        )
        _status, answer = await _post(url, "EiEvent", message)
        assert _code(answer) == 452
        assert await running.parts.store.oadr2b_records("opt") == []


async def test_an_event_2b_cannot_carry_is_left_out_and_the_others_still_go(
    caplog: Any,
) -> None:
    async with vtn_with_2b() as (running, api):
        url = running.oadr2b_url
        assert url is not None
        ven_id = await _register(url, "ven_c")
        # SIMPLE 7 is not a level (rule 9) and GHG has no 2.0b signal: neither may block the
        # good event (OpenADR-2B-PyServer answered every poll of such a VEN with 500).
        bad = await simple_event(api, 7, start=_start())
        program = await api.ok("POST", "/programs", body={"programName": "ghg"})
        await api.ok(
            "POST",
            "/events",
            body={
                "programID": program["id"],
                "intervalPeriod": {"start": _start(), "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "GHG", "values": [350]}]}],
            },
        )
        good = await simple_event(api, 1, start=_start())
        with caplog.at_level(logging.WARNING):
            _status, answer = await _post(url, "OadrPoll", _poll(ven_id))
        assert answer is not None
        ids = [node.text for node in answer.iter(q(EI, "eventID"))]
        assert ids == [good["id"]]
        assert f"event {bad['id']} is not sent to 2.0b VENs: SIMPLE 7.0 is not a level" in (
            caplog.text
        )
        assert "GHG has no 2.0b signal" in caplog.text


async def test_operator_cancel_and_reregistration_reach_the_ven_at_its_poll() -> None:
    async with vtn_with_2b() as (running, _api):
        url = running.oadr2b_url
        face = running.parts.oadr2b
        assert url is not None
        assert face is not None
        ven_id = await _register(url, "ven_d")
        await face.registry.ask_reregistration("ven_d")
        _status, answer = await _post(url, "OadrPoll", _poll(ven_id))
        assert _message_name(answer) == "oadrRequestReregistration"
        assert await _register(url, "ven_d") == ven_id  # same venID again
        _status, answer = await _post(url, "OadrPoll", _poll(ven_id))
        assert _message_name(answer) == "oadrDistributeEvent"  # its (empty) list again
        await face.registry.revoke("ven_d")
        _status, answer = await _post(url, "OadrPoll", _poll(ven_id))
        assert _message_name(answer) == "oadrCancelPartyRegistration"
        registration = await running.parts.store.oadr2b_registration("ven_d")
        assert registration is not None
        canceled = create_message(
            "oadrCanceledPartyRegistration",
            response={"response_code": 200, "response_description": "OK", "request_id": "x"},
            registration_id=registration.registration_id,
            ven_id=ven_id,
        )
        _status, answer = await _post(url, "EiRegisterParty", canceled)
        assert _code(answer) == 200
        revoked = await running.parts.store.oadr2b_registration("ven_d")
        assert revoked is not None
        assert revoked.state == "revoked"
        _status, answer = await _post(url, "OadrPoll", _poll(ven_id))
        assert _code(answer) == 463


def _created(ven_id: str, answer: etree._Element | None) -> str:
    assert answer is not None
    events = [
        (node.text, int(mod.text or "0"))
        for node, mod in zip(
            answer.iter(q(EI, "eventID")), answer.iter(q(EI, "modificationNumber")), strict=True
        )
    ]
    return str(
        create_message(
            "oadrCreatedEvent",
            response={"response_code": 200, "response_description": "OK", "request_id": None},
            event_responses=[
                {
                    "response_code": 200,
                    "response_description": "OK",
                    "request_id": "d",
                    "event_id": event_id,
                    "modification_number": number,
                    "opt_type": "optIn",
                }
                for event_id, number in events
            ],
            ven_id=ven_id,
        )
    )


async def test_a_distribute_is_repeated_until_the_ven_answers_it(caplog: Any) -> None:
    async with vtn_with_2b() as (running, api):
        url = running.oadr2b_url
        assert url is not None
        ven_id = await _register(url, "ven_e")
        await simple_event(api, 1, start=_start())
        _status, first = await _post(url, "OadrPoll", _poll(ven_id))
        assert _message_name(first) == "oadrDistributeEvent"
        _status, again = await _post(url, "OadrPoll", _poll(ven_id))
        assert _message_name(again) == "oadrDistributeEvent"  # rule 52: not answered yet
        _status, answer = await _post(url, "EiEvent", _created(ven_id, again))
        assert _code(answer) == 200
        _status, quiet = await _post(url, "OadrPoll", _poll(ven_id))
        assert _message_name(quiet) == "oadrResponse"
        # A VEN that never answers gets the same list MAX_REPEATS times, then no more.
        await simple_event(api, 2, start=_start())
        names = []
        with caplog.at_level(logging.WARNING):
            for _ in range(MAX_REPEATS + 1):
                _status, answer = await _post(url, "OadrPoll", _poll(ven_id))
                names.append(_message_name(answer))
        assert names == ["oadrDistributeEvent"] * MAX_REPEATS + ["oadrResponse"]
        assert f"did not answer {MAX_REPEATS} distributes" in caplog.text

"""The sans-I/O engine answers what the VTN may send in a poll (built by openleadr here), each
answer schema-valid: re-registration, a cancelled registration, report requests and cancels, a
register report from the VTN, and messages a VEN does not expect."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from openleadr.messaging import create_message

from tests.oadr2b.schema import assert_valid
from tests.oadr2b.scripted_vtn import registered_report, registration_answer
from ven_edge.oadr2b.engine import VenEngine
from ven_edge.oadr2b.envelope import open_payload
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.reports import Sample
from ven_edge.oadr2b.xmlsafe import parse_xml

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


def _engine() -> VenEngine:
    engine = VenEngine("wh_ven", "wh", rng=random.Random(1))
    answer = open_payload(parse_xml(registration_answer(timedelta(seconds=10))))
    assert engine.take_registration(answer, final=True)
    return engine


def _vtn(message: str, **fields: object) -> object:
    return open_payload(parse_xml(create_message(message, **fields).encode()))


def _names(reaction: object) -> list[str]:
    names = []
    for out in reaction.outgoing:  # type: ignore[attr-defined]
        assert_valid(out.payload)
        names.append(f"{out.service}:{etree.QName(out.payload[0][0]).localname}")
    return names


def test_registration_sets_ids_and_the_poll_period() -> None:
    engine = _engine()
    assert engine.ven_id == "VEN_WH_1"
    assert engine.poll_period == timedelta(seconds=10)
    assert [etree.QName(o.payload[0][0]).localname for o in engine.after_registration(NOW)] == [
        "oadrRegisterReport",
        "oadrRequestEvent",
    ]


def test_reregistration_request_is_answered_and_registration_forgotten() -> None:
    engine = _engine()
    reaction = engine.handle(_vtn("oadrRequestReregistration", ven_id="VEN_WH_1"), NOW)  # type: ignore[arg-type]
    assert _names(reaction) == ["EiRegisterParty:oadrResponse"]
    assert reaction.reregister


def test_cancelled_registration_is_confirmed() -> None:
    engine = _engine()
    message = _vtn(
        "oadrCancelPartyRegistration", request_id="q1", registration_id="REG_1", ven_id="VEN_WH_1"
    )
    reaction = engine.handle(message, NOW)  # type: ignore[arg-type]
    assert _names(reaction) == ["EiRegisterParty:oadrCanceledPartyRegistration"]
    assert reaction.reregister


def test_report_requests_then_cancel() -> None:
    engine = _engine()
    requests = open_payload(
        parse_xml(registered_report(timedelta(seconds=10), timedelta(seconds=30)))
    )
    accepted = engine.handle(requests, NOW)
    assert _names(accepted) == ["EiReport:oadrCreatedReport"]
    assert accepted.reports_changed  # the caller saves them at once
    sample = Sample(NOW, 500.0, True, False)
    assert engine.due_reports(NOW, sample) == []  # sampled; report-back is 30 s away
    later = NOW + timedelta(seconds=30)
    due = engine.due_reports(later, sample)
    assert sorted(d.what for d in due) == [
        "update report ven-edge-status",
        "update report ven-edge-usage",
    ]
    for out in due:
        assert_valid(out.payload)
    cancel = _vtn(
        "oadrCancelReport",
        request_id="q2",
        report_request_id="rr-ven-edge-usage",
        report_to_follow=False,
        ven_id="VEN_WH_1",
    )
    cancelled = engine.handle(cancel, later)  # type: ignore[arg-type]
    assert _names(cancelled) == ["EiReport:oadrCanceledReport"]
    assert cancelled.reports_changed
    assert [r["request_id"] for r in engine.export_state()["reports"]] == ["rr-ven-edge-status"]
    assert [d.what for d in engine.due_reports(later + timedelta(minutes=1), sample)] == [
        "update report ven-edge-status"
    ]


def test_register_report_from_the_vtn_is_answered() -> None:
    """Digest §1.6: a VTN-initiated oadrRegisterReport gets oadrRegisteredReport."""
    engine = _engine()
    message = _vtn("oadrRegisterReport", request_id="q3", reports=[], ven_id="VEN_WH_1")
    assert _names(engine.handle(message, NOW)) == ["EiReport:oadrRegisteredReport"]  # type: ignore[arg-type]


def test_unexpected_message_is_logged_and_ignored() -> None:
    engine = _engine()
    message = _vtn("oadrPoll", ven_id="VEN_WH_1")
    reaction = engine.handle(message, NOW)  # type: ignore[arg-type]
    assert reaction.outgoing == []
    assert reaction.problems == ["unexpected message oadrPoll"]


def test_refused_registration_raises_with_the_reason() -> None:
    engine = VenEngine("wh_ven", "wh")
    refusal = create_message(
        "oadrCreatedPartyRegistration",
        response={"response_code": 200, "response_description": "OK", "request_id": None},
        registration_id=None,
        ven_id=None,
        vtn_id="V",
        profiles=[{"profile_name": "2.0b", "transports": [{"transport_name": "simpleHttp"}]}],
    )
    with pytest.raises(MessageError, match="did not register"):
        engine.take_registration(open_payload(parse_xml(refusal.encode())), final=True)
    assert engine.registration is None

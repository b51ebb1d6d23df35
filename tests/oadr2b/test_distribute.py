"""oadrDistributeEvent: typed events written schema-valid and read back unchanged."""

from __future__ import annotations

from lxml import etree

from tests.oadr2b.samples import dispatch_event, distribute, simple_event
from tests.oadr2b.schema import assert_valid
from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.distribute import build_distribute, parse_distribute
from ven_edge.oadr2b.envelope import open_payload
from ven_edge.oadr2b.ns import EI, XCAL, q
from ven_edge.oadr2b.xmlsafe import parse_xml


def _read(body: bytes):  # type: ignore[no-untyped-def]
    return parse_distribute(open_payload(parse_xml(body)).message)


def test_round_trip_is_schema_valid_and_lossless() -> None:
    message = distribute(simple_event(2.0), dispatch_event())
    payload = build_distribute(message)
    assert_valid(payload)
    assert _read(to_bytes(payload)) == message


def test_intervals_carry_no_dtstart() -> None:
    """Rule 103: dtstart must not appear inside intervals."""
    payload = build_distribute(distribute(simple_event()))
    assert payload.find(f".//{q(EI, 'interval')}/{q(XCAL, 'dtstart')}") is None


def test_one_bad_event_does_not_drop_the_others() -> None:
    """Rule 19: valid and invalid events in one distribute are handled event by event."""
    payload = build_distribute(distribute(simple_event(), simple_event(event_id="ev-bad")))
    bad = payload.findall(f".//{q(EI, 'eventDescriptor')}")[1]
    bad.find(q(EI, "eventStatus")).text = "smouldering"  # type: ignore[union-attr]
    read = _read(etree.tostring(payload))
    assert [e.event_id for e in read.events] == ["ev-1"]
    assert read.bad_events[0].event_id == "ev-bad"
    assert read.bad_events[0].code == ResponseCode.COMPLIANCE_ERROR
    assert "eventStatus" in read.bad_events[0].reason


def test_nan_payload_is_invalid_data() -> None:
    payload = build_distribute(distribute(simple_event()))
    payload.find(f".//{q(EI, 'value')}").text = "NaN"  # type: ignore[union-attr]
    read = _read(etree.tostring(payload))
    assert read.events == ()
    assert read.bad_events[0].code == ResponseCode.INVALID_DATA


def test_year_one_dtstart_is_refused_per_event() -> None:
    payload = build_distribute(distribute(simple_event()))
    payload.find(f".//{q(XCAL, 'date-time')}").text = "0001-01-01T00:00:00Z"  # type: ignore[union-attr]
    read = _read(etree.tostring(payload))
    assert read.bad_events[0].code == ResponseCode.INVALID_DATA
    assert "dtstart" in read.bad_events[0].reason


def test_huge_duration_is_refused_per_event() -> None:
    payload = build_distribute(distribute(simple_event()))
    node = payload.find(f".//{q(XCAL, 'properties')}/{q(XCAL, 'duration')}/{q(XCAL, 'duration')}")
    node.text = "PT99999999999999H"  # type: ignore[union-attr]
    read = _read(etree.tostring(payload))
    assert read.bad_events[0].code == ResponseCode.INVALID_DATA

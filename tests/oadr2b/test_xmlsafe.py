"""The hardened XML parser refuses hostile bodies with a reason, and never raises otherwise."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.oadr2b.samples import distribute, simple_event
from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.distribute import build_distribute, parse_distribute
from ven_edge.oadr2b.envelope import open_payload
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.events import EventSignal, Interval
from ven_edge.oadr2b.xmlsafe import XmlRejected, parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"<a><b></a>", "malformed"),
        (b"not xml", "malformed"),
        (BILLION_LAUGHS, "doctype"),
        (
            BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16"),
            "doctype",
        ),
        (EXTERNAL, "doctype"),
        (b"<a>" * 40 + b"</a>" * 40, "too_deep"),
        (b"<r>" + b"<x/>" * 60_000 + b"</r>", "too_many"),
        (b"<r>" + b"x" * 1_100_000 + b"</r>", "too_large"),
    ],
)
def test_hostile_bodies_are_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(XmlRejected) as caught:
        parse_xml(body)
    assert caught.value.reason == reason
    assert reason in str(caught.value)


def test_a_real_message_parses() -> None:
    body = to_bytes(build_distribute(distribute(simple_event())))
    assert parse_distribute(open_payload(parse_xml(body)).message).events


@settings(max_examples=60)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_typed_errors(body: bytes) -> None:
    with contextlib.suppress(XmlRejected, MessageError):
        open_payload(parse_xml(body))


_VALID = to_bytes(build_distribute(distribute(simple_event())))


@settings(max_examples=80)
@given(
    st.integers(min_value=0, max_value=len(_VALID) - 1),
    st.sampled_from(
        [
            b"0001-01-01T00:00:00Z",
            b"9999-12-31T23:59:59Z",
            b"P99999999999999999D",
            b"NaN",
            b"-inf",
            b"1e400",
            b"</ei:value>",
            b"<a>" * 50,
            b"\x00",
            b"\xff\xfe",
            b"&amp;&#0;",
        ]
    ),
)
def test_spliced_messages_raise_only_typed_errors(at: int, splice: bytes) -> None:
    """Extremes spliced anywhere into a valid distribute: a typed refusal, or a parsed message."""
    body = _VALID[:at] + splice + _VALID[at:]
    with contextlib.suppress(XmlRejected, MessageError):
        parse_distribute(open_payload(parse_xml(body)).message)


_EXTREME_DATES = st.sampled_from(
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
) | st.datetimes(timezones=st.just(UTC))
_EXTREME_SPANS = st.sampled_from(
    [timedelta(0), timedelta(days=366), timedelta(days=367), timedelta(days=999_999_999)]
) | st.timedeltas(min_value=timedelta(0))
_PAYLOADS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 3.0, 7.0])


@settings(max_examples=60)
@given(_EXTREME_DATES, _EXTREME_SPANS, _PAYLOADS, st.integers(min_value=0, max_value=10**12))
def test_extreme_events_are_read_or_refused_per_event(
    start: datetime, span: timedelta, payload: float, modification: int
) -> None:
    """Year-1 and year-9999 starts, huge durations, NaN and infinite payloads, huge
    modification numbers: each event is read back unchanged or refused with a code, and the
    valid event beside it is always kept (rule 19)."""
    odd = replace(
        simple_event(event_id="odd", start=start, duration=span),
        modification_number=modification,
        signals=(EventSignal("SIMPLE", "level", "s", (Interval(0, span, payload),)),),
    )
    body = to_bytes(build_distribute(distribute(simple_event(), odd)))
    read = parse_distribute(open_payload(parse_xml(body)).message)
    assert [e.event_id for e in read.events if e.event_id == "ev-1"] == ["ev-1"]
    if read.bad_events:
        assert read.bad_events[0].event_id == "odd"
        assert read.bad_events[0].code in (ResponseCode.INVALID_DATA, ResponseCode.COMPLIANCE_ERROR)
    else:
        (back,) = (e for e in read.events if e.event_id == "odd")
        assert back.dtstart == start.replace(microsecond=start.microsecond)
        assert back.signals[0].intervals[0].value == payload


def test_deep_nesting_inside_a_valid_message_is_refused() -> None:
    body = to_bytes(build_distribute(distribute(simple_event())))
    deep = body.replace(b"<ei:vtnID>", b"<x>" * 40 + b"</x>" * 40 + b"<ei:vtnID>")
    with pytest.raises(XmlRejected, match="too_deep"):
        parse_xml(deep)

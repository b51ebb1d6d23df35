"""The hardened XML parser refuses hostile bodies with a reason, and never raises otherwise."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.oadr2b.samples import distribute, simple_event
from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.distribute import build_distribute, parse_distribute
from ven_edge.oadr2b.envelope import open_payload
from ven_edge.oadr2b.errors import MessageError
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

"""Reading what 2.0b VENs send: typed requests from openleadr's messages, and a fuzzed parser
that only ever answers with a response code."""

from __future__ import annotations

import dataclasses
import random
import time
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from openleadr.messaging import create_message

from tests.oadr2b.schema import assert_valid
from tests.vtn_lite.conftest import open_vtn
from tests.vtn_lite.oadr2b_peer import party_registration
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.ns import EI
from vtn_lite.auth import Principal
from vtn_lite.oadr2b import inbound
from vtn_lite.oadr2b.face import Face
from vtn_lite.oadr2b.settings import Oadr2bSettings

LIMIT = 64 * 1024


def _read(body: bytes | str) -> inbound.Request:
    data = body.encode() if isinstance(body, str) else body
    return inbound.read_request(inbound.open_body(data, max_bytes=LIMIT))


SAMPLES = [
    create_message("oadrPoll", ven_id="VEN_1"),
    create_message("oadrQueryRegistration", request_id="q1"),
    party_registration("wh_ven"),
    create_message(
        "oadrCreatedEvent",
        response={"response_code": 200, "response_description": "OK", "request_id": None},
        event_responses=[
            {
                "response_code": 200,
                "response_description": "OK",
                "request_id": "d1",
                "event_id": "ev-1",
                "modification_number": 3,
                "opt_type": "optOut",
            }
        ],
        ven_id="VEN_1",
    ),
    create_message(
        "oadrCreateOpt",
        opt_id="o1",
        opt_type="optOut",
        opt_reason="participating",
        ven_id="VEN_1",
        created_date_time=datetime(2026, 12, 5, tzinfo=UTC),
        request_id="c1",
        event_id="ev-1",
        modification_number=0,
        targets=[{"ven_id": "VEN_1"}],
    ),
    create_message(
        "oadrCancelPartyRegistration", request_id="x1", registration_id="REG", ven_id="VEN_1"
    ),
]


def test_openleadr_messages_read_as_typed_requests() -> None:
    poll, query, register, created, opt, cancel = (_read(s) for s in SAMPLES)
    assert poll == inbound.VenMessage("oadrPoll", "VEN_1")
    assert query == inbound.QueryRegistration("q1")
    assert isinstance(register, inbound.CreatePartyRegistration)
    assert (register.ven_name, register.pull, register.profile) == ("wh_ven", True, "2.0b")
    assert isinstance(created, inbound.CreatedEvent)
    assert created.responses == (inbound.EventResponse("ev-1", 3, "optOut", 200, "d1"),)
    assert isinstance(opt, inbound.CreateOpt)
    assert (opt.opt_id, opt.opt, opt.event_id) == ("o1", "optOut", "ev-1")
    assert cancel == inbound.CancelPartyRegistration("x1", "VEN_1", "REG")


def test_update_report_points_keep_their_time_and_rid() -> None:
    moment = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    report = {
        "report_id": "rep-1",
        "report_request_id": "req-1",
        "report_specifier_id": "spec-1",
        "report_name": "TELEMETRY_USAGE",
        "created_date_time": moment,
        "intervals": [
            {
                "dtstart": moment + timedelta(seconds=i),
                "report_payload": {"r_id": "power", "value": 100.0 + i},
            }
            for i in range(3)
        ],
    }
    message = create_message("oadrUpdateReport", request_id="u1", reports=[report], ven_id="V")
    update = _read(message)
    assert isinstance(update, inbound.UpdateReport)
    points = update.reports[0].points
    assert [(p.r_id, p.value) for p in points] == [
        ("power", 100.0),
        ("power", 101.0),
        ("power", 102.0),
    ]
    assert points[2].at == moment + timedelta(seconds=2)


@settings(max_examples=150)
@given(st.binary(max_size=2048))
def test_any_bytes_give_a_request_or_a_response_code(data: bytes) -> None:
    try:
        _read(data)
    except MessageError as exc:
        code = exc.code
        assert 400 <= code < 500


_TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "-1", "1e400", "nan", "9" * 30, "x" * 300, "optMaybe", "2.0a"]),
)


@settings(max_examples=200)
@given(st.sampled_from(range(len(SAMPLES))), st.data())
def test_mutated_messages_give_a_request_or_a_response_code(
    index: int, data: st.DataObject
) -> None:
    root = etree.fromstring(SAMPLES[index].encode())
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    target = data.draw(st.sampled_from(elements))
    action = data.draw(st.sampled_from(["text", "drop", "duplicate"]))
    if action == "text":
        text = data.draw(_TEXTS)
        target.text = "".join(ch for ch in text if ch.isprintable())
    elif action == "drop" and target.getparent() is not None:
        target.getparent().remove(target)
    elif target.getparent() is not None:
        target.getparent().append(etree.fromstring(etree.tostring(target)))
    try:
        request = _read(etree.tostring(root))
    except MessageError as exc:
        code = exc.code
        assert 400 <= code < 500
        return
    for item in dataclasses.fields(request):
        value = getattr(request, item.name)
        assert not isinstance(value, str) or len(value) <= inbound.MAX_ID


async def test_mutated_messages_from_a_registered_ven_never_break_the_face() -> None:
    """Hundreds of damaged messages in the name of a registered VEN: each answered with a
    schema-valid message, and the VEN's registration and events unharmed afterwards."""
    rng = random.Random(2026)
    async with open_vtn() as vtn:
        face = Face(vtn, Oadr2bSettings(lab_plain_http=True, auto_approve=True), clock=time.time)
        answer = await face.handle(party_registration("fuzzed").encode(), fingerprint=None)
        ven_id = etree.fromstring(answer.body).findtext(f".//{{{EI}}}venID")
        assert ven_id
        bl = Principal("bl", "bl")
        program = await vtn.create(bl, "PROGRAM", {"programName": "p"})
        await vtn.create(
            bl,
            "EVENT",
            {
                "programID": program["id"],
                "intervalPeriod": {"start": "2030-01-01T00:00:00Z", "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
            },
        )
        sources = [sample.replace("VEN_1", ven_id) for sample in SAMPLES]
        for _ in range(300):
            root = etree.fromstring(rng.choice(sources).encode())
            nodes = [e for e in root.iter() if isinstance(e.tag, str)]
            target = rng.choice(nodes)
            choice = rng.random()
            if choice < 0.5:
                target.text = rng.choice(["", "x" * 400, "-1", "nan", "1e999", "optMaybe", ven_id])
            elif target.getparent() is not None:
                target.getparent().remove(target)
            reply = await face.handle(etree.tostring(root), fingerprint=None)
            assert_valid(reply.body)
        registration = await vtn.store.oadr2b_registration("fuzzed")
        assert registration is not None
        assert registration.state in ("approved", "cancelled")
        poll = create_message("oadrPoll", ven_id=ven_id).encode()
        if registration.state == "approved":
            reply = await face.handle(poll, fingerprint=None)
            assert b"oadrDistributeEvent" in reply.body or b"oadrResponse" in reply.body

"""PyPI ``cta2045==0.1.0`` as an independent oracle for Basic DR payloads (docs/cta2045.md §12.1).

That package frames without check bytes, so its frames are compared with ours minus the last two
bytes. Its two known bugs are kept out (§12.1, §13 rows 3 and 4): ``power_level(percent)`` puts
the raw percent in opcode2 (we scale to 0-127), and it reads device-information model/serial as
15 bytes. Only the raw opcode2 of power-level frames and no device-information frame is compared.
Its duration encoder rounds down; ours rounds up (§13 row 7), compared as such.
"""

from __future__ import annotations

import pytest
from cta2045 import app as oracle
from cta2045.codec import Duration
from cta2045.enums import BasicDRCategory, OperationalState
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.cta2045 import messages as m
from ven_edge.cta2045.codec import decode, encode
from ven_edge.cta2045.errors import FieldValueError
from ven_edge.cta2045.frames import Frame, checksum
from ven_edge.cta2045.message import Message
from ven_edge.cta2045.table import BASIC, MESSAGES

OUR_BASIC = {spec.opcodes[0]: spec for spec in MESSAGES if spec.msg_type == BASIC}
DURATION_OPCODES = {0x01, 0x0A, 0x0B, 0x17}


def test_same_basic_opcode_set() -> None:
    assert set(OUR_BASIC) == {c.value for c in BasicDRCategory}


@given(st.sampled_from(sorted(OUR_BASIC)), st.integers(0, 255))
def test_basic_payload_decodes_alike(opcode1: int, opcode2: int) -> None:
    frame = Frame(0x0801, bytes((opcode1, opcode2))).serialize()
    theirs, used = oracle.decode(frame[:-2])
    assert used == 6
    try:
        ours = decode(frame)
    except FieldValueError:
        # We refuse values a field does not allow (override flag 0/1, hour 0-23); the oracle
        # keeps them raw. Only these two fields are strict.
        assert opcode1 in (0x11, 0x16)
        return
    assert isinstance(theirs, oracle.BasicDR)
    assert theirs.category is not None
    assert (ours.opcode1, ours.opcode2) == (theirs.opcode1, theirs.opcode2)
    assert OUR_BASIC[opcode1].name == ours.name
    if opcode1 in DURATION_OPCODES:
        expected = Duration.from_byte(opcode2).seconds
        assert ours.fields["duration_s"] == expected
    if opcode1 == 0x13:
        state = theirs.operational_state
        if isinstance(state, OperationalState):
            assert ours.fields["state"] == state.value
            assert ours.fields["state_name"] == state.name.upper().replace(
                "SGD_ERROR", ("SGD_ERROR_CONDITION")
            )
        else:
            assert ours.fields["state_name"] == "UNKNOWN"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (m.shed(), oracle.shed()),
        (m.end_shed(), oracle.end()),
        (m.load_up(), oracle.load_up()),
        (m.critical_peak(), oracle.critical_peak()),
        (m.grid_emergency(), oracle.grid_emergency()),
        (m.shed(duration_s=578), oracle.shed(Duration.of_seconds(578))),
        (m.load_up(duration_s=1800), oracle.load_up(30)),
        (m.critical_peak(duration_s=2), oracle.critical_peak(Duration.of_seconds(2))),
        (m.grid_emergency(duration_s=10**6), oracle.grid_emergency(Duration.too_long())),
    ],
    ids=lambda x: getattr(x, "name", ""),
)
def test_encoders_agree(ours: Message, theirs: oracle.BasicDR) -> None:
    assert encode(ours)[:-2] == theirs.to_bytes()


@given(
    st.sampled_from(
        [
            ("shed", oracle.shed),
            ("load_up", oracle.load_up),
            ("critical_peak", oracle.critical_peak),
            ("grid_emergency", oracle.grid_emergency),
        ]
    ),
    st.integers(2, 2 * 254 * 254),
)
def test_duration_rounding_brackets_the_request(pair: tuple[str, object], seconds: int) -> None:
    name, encoder = pair
    assert callable(encoder)
    ours = encode(name, duration_s=seconds)[5]
    theirs = encoder(Duration.of_seconds(seconds)).to_bytes()[5]
    # The oracle rounds down, we round up: they agree on exact values and bracket the rest.
    assert 2 * theirs * theirs <= seconds <= 2 * ours * ours
    assert ours - theirs == (0 if 2 * theirs * theirs == seconds else 1)


@given(st.integers(0, 127), st.booleans())
def test_power_level_opcode2_decodes_alike(level: int, produce: bool) -> None:
    # Compare raw opcode2 only: the oracle's percent-in-opcode2 reading is its known bug.
    code = level | (0x80 if produce else 0)
    frame = encode("request_power_level", level_code=code)
    theirs, _ = oracle.decode(frame[:-2])
    ours = decode(frame)
    assert ours.opcode2 == theirs.opcode2 == code
    assert ours.fields["produce"] is produce


def test_power_level_oracle_bug_is_not_copied() -> None:
    assert oracle.power_level(50).to_bytes()[5] == 0x32  # the oracle's raw percent
    assert encode(m.request_power_level(50))[5] == 0x3F  # EPRI-sim/Intwine/EPRI-lib scale


def _their_records(raw: bytes) -> list[tuple[int, int, int]]:
    theirs, _ = oracle.decode(raw[:-2])
    assert isinstance(theirs, oracle.IntermediateDR)
    assert isinstance(theirs.body, oracle.CommodityReadReply)
    return [
        (int(getattr(r.code, "value", r.code)), r.instantaneous, r.cumulative)
        for r in theirs.body.reports
    ]


def _our_records(raw: bytes) -> list[tuple[int, int, int]]:
    records = decode(raw).fields["records"]
    assert isinstance(records, list)
    return [(r["code"], r["instantaneous"], r["cumulative"]) for r in records]


def test_commodity_reply_vector_agrees_with_oracle() -> None:
    # An Intermediate cross-check where the oracle is right (§12.1: EPRI commodity vector).
    raw = bytes.fromhex(
        "08 02 00 2A 06 80 00 00 00 00 49 96 02 D2 00 02 4C B0 16 EA 06 00 00 00 00 00 00 00"
        " 00 49 96 02 D2 07 00 00 00 00 00 00 00 02 4C B0 16 EA 03 21"
    )
    assert _our_records(raw) == _their_records(raw)
    assert _our_records(raw)[0] == (0, 1234567890, 9876543210)


@given(
    st.lists(
        st.tuples(st.integers(0, 11), st.integers(0, 2**48 - 1), st.integers(0, 2**48 - 1)),
        max_size=5,
    )
)
def test_commodity_reply_round_trips_through_oracle(records: list[tuple[int, int, int]]) -> None:
    # Measured flag off: the oracle returns bit 7 raw (§12.1), which is not what we compare.
    raw = encode(
        m.commodity_read_response(
            [m.commodity_record(c, i, t, measured=False) for c, i, t in records]
        )
    )
    assert _their_records(raw) == records == _our_records(raw)


def test_advanced_load_up_agrees_with_oracle() -> None:
    ours = encode("advanced_load_up", duration_min=60, value=5, unit_code=2)
    assert ours[:-2] == oracle.advanced_load_up(60, 5, 2).to_bytes()
    full = oracle.advanced_load_up(
        60,
        5,
        2,
        efficiency=90,
        event_id=7,
        start_time=1000,
        start_randomization=1,
        end_randomization=2,
    ).to_bytes()
    decoded = decode(full + checksum(full))
    assert decoded.fields["event_id"] == 7
    assert decoded.fields["efficiency"] == 90
    assert decoded.fields["start_time_s"] == 1000
    assert decoded.fields["energy_wh"] == 500
    assert encode(decoded)[:-2] == full

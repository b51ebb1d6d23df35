"""The typed message classes: generated from the table, and true to their annotations."""

from __future__ import annotations

import types
import typing
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from ven_edge.cta2045 import messages, typed, typegen
from ven_edge.cta2045.codec import build, decode
from ven_edge.cta2045.encodings import (
    UNKNOWN_NAME,
    AppNakReason,
    Capability,
    CommodityCode,
    OperationalState,
    ResponseCode,
)
from ven_edge.cta2045.errors import FieldValueError
from ven_edge.cta2045.frames import Frame, NakReason
from ven_edge.cta2045.message import Message
from ven_edge.cta2045.table import MESSAGES, MessageSpec


def test_the_typed_module_is_what_the_table_generates() -> None:
    source = Path(typed.__file__).read_text(encoding="utf-8")
    assert source == typegen.render(), "regenerate: python -m ven_edge.cta2045.typegen"


def test_every_row_has_its_class() -> None:
    assert set(typed.CLASSES) == {spec.name for spec in MESSAGES}
    for name, cls in typed.CLASSES.items():
        assert name == cls.NAME
        assert issubclass(cls, Message)


def _conforms(value: object, hint: object) -> bool:
    """Does ``value`` have the type ``hint`` (unions, None, list[...], tuple[..., ...])?"""
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arm) for arm in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_conforms(v, item) for v in value)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_conforms(v, item) for v in value)
    assert isinstance(hint, type)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, float | int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _attributes(cls: type[Message]) -> dict[str, object]:
    """Each typed attribute of ``cls`` with its type."""
    hints = {}
    for klass in cls.__mro__:
        if klass is Message:
            break
        for name, member in vars(klass).items():
            if isinstance(member, property) and name not in hints:
                assert member.fget is not None
                hints[name] = typing.get_type_hints(member.fget, vars(typed))["return"]
    return hints


@st.composite
def frames_of_rows(draw: st.DrawFn) -> Frame:
    spec: MessageSpec = draw(st.sampled_from([s for s in MESSAGES if s.msg_type is not None]))
    layout = spec.layout
    if layout.repeated is not None:
        fixed = sum(f.size for f in layout.fixed)
        count = draw(st.integers(layout.repeated.min_count, 4))
        length = fixed + count * layout.repeated.size
    else:
        length = draw(st.sampled_from(layout.lengths()))
    data = draw(st.binary(min_size=length, max_size=length))
    assert spec.msg_type is not None
    return Frame(spec.msg_type, spec.opcodes + data)


@given(frames_of_rows())
def test_decoded_attributes_have_their_annotated_types(frame: Frame) -> None:
    try:
        message = decode(frame)
    except FieldValueError:
        assume(False)  # a value the table refuses (hour 24, a flag of 2): not a message
        return
    assert type(message) is typed.CLASSES[message.name]
    for name, hint in _attributes(type(message)).items():
        value = getattr(message, name)
        assert _conforms(value, hint), f"{message.name}.{name} = {value!r} is not {hint}"


def test_named_codes_decode_to_enum_members_and_others_stay_ints() -> None:
    known = decode(messages.operational_state_response(OperationalState.IDLE_OPTED_OUT).frame)
    assert isinstance(known, typed.OperationalStateResponse)
    assert known.state is OperationalState.IDLE_OPTED_OUT
    unknown = decode(Frame(0x0801, bytes((0x13, 0x63))))
    assert isinstance(unknown, typed.OperationalStateResponse)
    assert unknown.state == 0x63
    assert not isinstance(unknown.state, OperationalState)
    assert unknown.state_name == UNKNOWN_NAME
    nak = decode(messages.app_nak(AppNakReason.CUSTOMER_OVERRIDE).frame)
    assert isinstance(nak, typed.AppNak)
    assert nak.reason is AppNakReason.CUSTOMER_OVERRIDE


def test_intermediate_replies_share_the_response_code() -> None:
    refused = messages.response_code_reply("get_set_point_reply", ResponseCode.BAD_VALUE)
    assert isinstance(refused, typed.SetSetPointReply)  # the three-byte form (§9.1)
    assert isinstance(refused, typed.IntermediateReply)
    assert refused.response_code is ResponseCode.BAD_VALUE
    assert not isinstance(messages.shed(60), typed.IntermediateReply)


def test_device_information_reply_is_typed() -> None:
    reply = messages.device_information_response(
        vendor_id=0x4455,
        device_type=3,
        capabilities=Capability.ADVANCED_LOAD_UP | (1 << 20),
        model_number="HPWH-50",
        firmware=(2024, 5, 1, 1, 2),
        serial_number="SN1",
    )
    assert reply.vendor_id == 0x4455
    assert reply.capabilities is not None
    assert Capability.ADVANCED_LOAD_UP in reply.capabilities
    assert reply.capabilities & (1 << 20)  # a bit the table does not name is kept
    assert reply.firmware_year == 2024
    assert reply.firmware_minor == 2
    short = decode(build("device_information_reply", response_code=0).frame)
    assert isinstance(short, typed.DeviceInformationReply)
    assert short.vendor_id is None
    assert short.model_number is None


def test_commodity_records_are_typed() -> None:
    reply = messages.commodity_read_response(
        [messages.commodity_record(0, 4500, 1_234_567), messages.commodity_record(0x55, 1, 2)]
    )
    first, second = reply.records
    assert first.code is CommodityCode.ELECTRICITY_CONSUMED
    assert first.instantaneous == 4500
    assert second.code == 0x55
    assert second.commodity == UNKNOWN_NAME


def test_a_built_message_is_decoded_only_when_read() -> None:
    shed = messages.shed(600)
    assert shed._fields is None
    assert shed.duration_s == 648  # rounded up to 2·18² s (docs/cta2045.md §8.2)
    assert shed == decode(shed.frame)
    assert hash(shed) == hash(decode(shed.frame))


def test_link_frames_built_and_decoded_alike() -> None:
    built = messages.link_nak(NakReason.CHECKSUM_ERROR)
    assert built == decode(b"\x15\x03")
    assert dict(built.fields) == {"reason": 3, "reason_name": "CHECKSUM_ERROR"}
    assert dict(messages.link_ack().fields) == {}
    assert messages.link_ack().msg_type == "06"

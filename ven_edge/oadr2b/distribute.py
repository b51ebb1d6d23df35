"""oadr:oadrDistributeEvent: reading (VEN) and writing (VTN, tests) the typed events.

Reading is per event (rule 19): an event that cannot be read becomes a :class:`BadEvent` with
the code to answer it by, and the others are still used. Writing follows oadr_20b.xsd's element
order and leaves ``dtstart`` out of intervals (rule 103).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from lxml import etree

from ven_edge.oadr2b.build import child, children, local_name, sub, text
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.envelope import new_payload
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.events import (
    BadEvent,
    DistributeEvent,
    Event,
    EventSignal,
    EventStatus,
    Interval,
    ItemBase,
    ResponseRequired,
    Targets,
)
from ven_edge.oadr2b.ns import EI, EMIX, OADR, POWER, PYLD, SCALE, STRM, XCAL, q
from ven_edge.oadr2b.timevalues import TimeFormatError, format_dt, format_span, read_dt, read_span

#: Most signals per event and intervals per signal read (a day of 1-minute intervals fits).
MAX_SIGNALS = 16
MAX_INTERVALS = 1440
#: Longest identifier or free text kept from a peer.
MAX_ID_CHARS = 256

#: eiTarget children in the schema's order (oadr_ei_20b.xsd EiTargetType).
_TARGET_FIELDS = (
    ("groupID", "group_ids"),
    ("groupName", "group_names"),
    ("resourceID", "resource_ids"),
    ("venID", "ven_ids"),
    ("partyID", "party_ids"),
)
#: Elements of an eiEventSignal that are not its unit (itemBase is "any other element").
_SIGNAL_PARTS = frozenset(
    {
        q(STRM, "intervals"),
        q(EI, "eiTarget"),
        q(EI, "signalName"),
        q(EI, "signalType"),
        q(EI, "signalID"),
        q(EI, "currentValue"),
    }
)


# --- reading -------------------------------------------------------------------------------


def parse_distribute(message: etree._Element) -> DistributeEvent:
    """The events of an oadrDistributeEvent element; :class:`MessageError` if its header is bad."""
    if message.tag != q(OADR, "oadrDistributeEvent"):
        raise MessageError(ResponseCode.BAD_REQUEST, f"{message.tag} is not oadrDistributeEvent")
    request_id = _ident(text(message, q(PYLD, "requestID")) or "", "requestID", required=False)
    vtn_id = _ident(text(message, q(EI, "vtnID")) or "", "vtnID")
    events: list[Event] = []
    bad: list[BadEvent] = []
    for node in children(message, q(OADR, "oadrEvent")):
        try:
            events.append(_event(node))
        except MessageError as exc:
            bad.append(_bad_event(node, exc))
    return DistributeEvent(request_id, vtn_id, tuple(events), tuple(bad))


def _bad_event(node: etree._Element, exc: MessageError) -> BadEvent:
    event_id = text(node, q(EI, "eiEvent"), q(EI, "eventDescriptor"), q(EI, "eventID"))
    mod_text = text(node, q(EI, "eiEvent"), q(EI, "eventDescriptor"), q(EI, "modificationNumber"))
    modification: int | None = None
    if mod_text is not None and mod_text.isdigit() and len(mod_text) < 10:
        modification = int(mod_text)
    required = ResponseRequired.ALWAYS
    if text(node, q(OADR, "oadrResponseRequired")) == ResponseRequired.NEVER.value:
        required = ResponseRequired.NEVER
    short_id = event_id[:MAX_ID_CHARS] if event_id is not None else None
    return BadEvent(short_id, modification, exc.code, exc.reason, required)


def _event(node: etree._Element) -> Event:
    ei_event = _need(node, q(EI, "eiEvent"))
    desc = _need(ei_event, q(EI, "eventDescriptor"))
    props = _need(ei_event, q(EI, "eiActivePeriod"), q(XCAL, "properties"))
    duration = _span(_need_text(props, q(XCAL, "duration"), q(XCAL, "duration")), "duration")
    startafter_text = text(props, q(XCAL, "tolerance"), q(XCAL, "tolerate"), q(XCAL, "startafter"))
    signals_node = _need(ei_event, q(EI, "eiEventSignals"))
    signal_nodes = list(children(signals_node, q(EI, "eiEventSignal")))
    if len(signal_nodes) > MAX_SIGNALS:
        raise MessageError(ResponseCode.INVALID_DATA, f"more than {MAX_SIGNALS} signals")
    signals = tuple(_signal(s, duration) for s in signal_nodes)
    status_text = _need_text(desc, q(EI, "eventStatus"))
    try:
        status = EventStatus(status_text)
    except ValueError:
        raise MessageError(
            ResponseCode.COMPLIANCE_ERROR, f"unknown eventStatus {status_text[:40]!r}"
        ) from None
    required_text = text(node, q(OADR, "oadrResponseRequired")) or "always"
    try:
        required = ResponseRequired(required_text)
    except ValueError:
        raise MessageError(
            ResponseCode.COMPLIANCE_ERROR, f"unknown oadrResponseRequired {required_text[:40]!r}"
        ) from None
    return Event(
        event_id=_ident(_need_text(desc, q(EI, "eventID")), "eventID"),
        modification_number=_count(_need_text(desc, q(EI, "modificationNumber")), "modification"),
        status=status,
        dtstart=_dt(_need_text(props, q(XCAL, "dtstart"), q(XCAL, "date-time")), "dtstart"),
        duration=duration,
        signals=signals,
        market_context=_ident(
            text(desc, q(EI, "eiMarketContext"), q(EMIX, "marketContext")) or "",
            "marketContext",
            required=False,
        ),
        created=_dt(_need_text(desc, q(EI, "createdDateTime")), "createdDateTime"),
        priority=_count(text(desc, q(EI, "priority")) or "0", "priority"),
        test_event=(text(desc, q(EI, "testEvent")) or "false").lower() != "false",
        startafter=_span(startafter_text, "startafter") if startafter_text else None,
        ramp_up=_opt_span(props, "x-eiRampUp", negative=True),
        recovery=_opt_span(props, "x-eiRecovery", negative=True),
        notification=_opt_span(props, "x-eiNotification", negative=False),
        targets=_targets(child(ei_event, q(EI, "eiTarget"))),
        response_required=required,
        modification_reason=_free_text(text(desc, q(EI, "modificationReason"))),
        vtn_comment=_free_text(text(desc, q(EI, "vtnComment"))),
    )


def _signal(node: etree._Element, event_duration: timedelta) -> EventSignal:
    interval_nodes = list(children(_need(node, q(STRM, "intervals")), q(EI, "interval")))
    if not interval_nodes:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, "signal without intervals")
    if len(interval_nodes) > MAX_INTERVALS:
        raise MessageError(ResponseCode.INVALID_DATA, f"more than {MAX_INTERVALS} intervals")
    intervals: list[Interval] = []
    for index, item in enumerate(interval_nodes):
        span_text = text(item, q(XCAL, "duration"), q(XCAL, "duration"))
        # A lone interval without a duration spans the whole event (tolerated: the profile's
        # examples always carry one, some VTNs leave it out).
        span = _span(span_text, "interval duration") if span_text else event_duration
        uid_text = text(item, q(XCAL, "uid"), q(XCAL, "text")) or str(index)
        uid = _count(uid_text, "interval uid")
        value = _float(
            _need_text(item, q(EI, "signalPayload"), q(EI, "payloadFloat"), q(EI, "value"))
        )
        intervals.append(Interval(uid, span, value))
    current = text(node, q(EI, "currentValue"), q(EI, "payloadFloat"), q(EI, "value"))
    return EventSignal(
        signal_name=_ident(_need_text(node, q(EI, "signalName")), "signalName"),
        signal_type=_ident(_need_text(node, q(EI, "signalType")), "signalType"),
        signal_id=_ident(text(node, q(EI, "signalID")) or "", "signalID", required=False),
        intervals=tuple(intervals),
        item=_item(node),
        current_value=_float(current) if current is not None else None,
    )


def _item(signal: etree._Element) -> ItemBase | None:
    for node in signal:
        if not isinstance(node.tag, str) or node.tag in _SIGNAL_PARTS:
            continue
        namespace = etree.QName(node).namespace or ""
        units = ""
        description = ""
        for part in node:
            if not isinstance(part.tag, str):
                continue
            name = local_name(part)
            if name == "itemUnits":
                units = (part.text or "").strip()[:40]
            elif name == "itemDescription":
                description = (part.text or "").strip()[:80]
        scale = text(node, q(SCALE, "siScaleCode"))
        return ItemBase(
            local_name(node), namespace, units, description, scale[:8] if scale else None
        )
    return None


def _targets(node: etree._Element | None) -> Targets:
    if node is None:
        return Targets()
    found: dict[str, tuple[str, ...]] = {}
    for tag, attr in _TARGET_FIELDS:
        values = tuple(
            (item.text or "").strip()[:MAX_ID_CHARS] for item in children(node, q(EI, tag))
        )
        found[attr] = tuple(v for v in values if v)
    return Targets(**found)


def _need(parent: etree._Element, *path: str) -> etree._Element:
    node = child(parent, *path)
    if node is None:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"missing {_path_name(path)}")
    return node


def _need_text(parent: etree._Element, *path: str) -> str:
    value = text(parent, *path)
    if value is None:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"missing {_path_name(path)}")
    return value


def _path_name(path: tuple[str, ...]) -> str:
    return "/".join(etree.QName(tag).localname for tag in path)


def _ident(value: str, what: str, *, required: bool = True) -> str:
    if required and not value:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"empty {what}")
    if len(value) > MAX_ID_CHARS:
        raise MessageError(ResponseCode.INVALID_DATA, f"{what} longer than {MAX_ID_CHARS}")
    return value


def _free_text(value: str | None) -> str | None:
    return value[:MAX_ID_CHARS] if value is not None else None


def _count(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"{what} {value[:20]!r} not a count")
    return int(value)


def _float(value: str) -> float:
    try:
        number = float(value) if len(value) <= 64 else math.nan
    except ValueError:
        raise MessageError(
            ResponseCode.COMPLIANCE_ERROR, f"payload {value[:20]!r} not a number"
        ) from None
    if not math.isfinite(number):
        raise MessageError(ResponseCode.INVALID_DATA, f"payload {value[:20]!r} not finite")
    return number


def _dt(value: str, what: str) -> datetime:
    try:
        return read_dt(value)
    except TimeFormatError as exc:
        raise MessageError(ResponseCode.INVALID_DATA, f"{what}: {exc}") from None


def _span(value: str | None, what: str, *, negative: bool = False) -> timedelta:
    if value is None:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"missing {what}")
    try:
        return read_span(value, allow_negative=negative)
    except TimeFormatError as exc:
        raise MessageError(ResponseCode.INVALID_DATA, f"{what}: {exc}") from None


def _opt_span(props: etree._Element, name: str, *, negative: bool) -> timedelta | None:
    value = text(props, q(EI, name), q(XCAL, "duration"))
    return _span(value, name, negative=negative) if value is not None else None


# --- writing -------------------------------------------------------------------------------


def build_distribute(message: DistributeEvent) -> etree._Element:
    """An oadrPayload holding ``message`` as oadrDistributeEvent (schema-valid)."""
    payload, body = new_payload("oadrDistributeEvent")
    sub(body, q(PYLD, "requestID"), message.request_id)
    sub(body, q(EI, "vtnID"), message.vtn_id)
    for event in message.events:
        _write_event(body, event)
    return payload


def _write_event(parent: etree._Element, event: Event) -> None:
    wrapper = sub(parent, q(OADR, "oadrEvent"))
    ei_event = sub(wrapper, q(EI, "eiEvent"))
    desc = sub(ei_event, q(EI, "eventDescriptor"))
    sub(desc, q(EI, "eventID"), event.event_id)
    sub(desc, q(EI, "modificationNumber"), str(event.modification_number))
    if event.modification_reason is not None:
        sub(desc, q(EI, "modificationReason"), event.modification_reason)
    sub(desc, q(EI, "priority"), str(event.priority))
    sub(sub(desc, q(EI, "eiMarketContext")), q(EMIX, "marketContext"), event.market_context)
    sub(desc, q(EI, "createdDateTime"), format_dt(event.created))
    sub(desc, q(EI, "eventStatus"), event.status.value)
    sub(desc, q(EI, "testEvent"), "true" if event.test_event else "false")
    if event.vtn_comment is not None:
        sub(desc, q(EI, "vtnComment"), event.vtn_comment)
    period = sub(ei_event, q(EI, "eiActivePeriod"))
    props = sub(period, q(XCAL, "properties"))
    sub(sub(props, q(XCAL, "dtstart")), q(XCAL, "date-time"), format_dt(event.dtstart))
    sub(sub(props, q(XCAL, "duration")), q(XCAL, "duration"), format_span(event.duration))
    if event.startafter is not None:
        tolerate = sub(sub(props, q(XCAL, "tolerance")), q(XCAL, "tolerate"))
        sub(tolerate, q(XCAL, "startafter"), format_span(event.startafter))
    for name, span in (
        ("x-eiNotification", event.notification),
        ("x-eiRampUp", event.ramp_up),
        ("x-eiRecovery", event.recovery),
    ):
        if span is not None:
            sub(sub(props, q(EI, name)), q(XCAL, "duration"), format_span(span))
    sub(period, q(XCAL, "components"))
    signals = sub(ei_event, q(EI, "eiEventSignals"))
    for signal in event.signals:
        _write_signal(signals, signal)
    target = sub(ei_event, q(EI, "eiTarget"))
    for tag, attr in _TARGET_FIELDS:
        for value in getattr(event.targets, attr):
            sub(target, q(EI, tag), value)
    sub(wrapper, q(OADR, "oadrResponseRequired"), event.response_required.value)


def _write_signal(parent: etree._Element, signal: EventSignal) -> None:
    node = sub(parent, q(EI, "eiEventSignal"))
    intervals = sub(node, q(STRM, "intervals"))
    for interval in signal.intervals:
        item = sub(intervals, q(EI, "interval"))
        sub(sub(item, q(XCAL, "duration")), q(XCAL, "duration"), format_span(interval.duration))
        sub(sub(item, q(XCAL, "uid")), q(XCAL, "text"), str(interval.uid))
        payload = sub(sub(item, q(EI, "signalPayload")), q(EI, "payloadFloat"))
        sub(payload, q(EI, "value"), _format_float(interval.value))
    sub(node, q(EI, "signalName"), signal.signal_name)
    sub(node, q(EI, "signalType"), signal.signal_type)
    sub(node, q(EI, "signalID"), signal.signal_id)
    if signal.item is not None:
        _write_item(node, signal.item)
    if signal.current_value is not None:
        current = sub(sub(node, q(EI, "currentValue")), q(EI, "payloadFloat"))
        sub(current, q(EI, "value"), _format_float(signal.current_value))


def _write_item(parent: etree._Element, item: ItemBase) -> None:
    node = sub(parent, f"{{{item.namespace}}}{item.element}")
    sub(node, f"{{{item.namespace}}}itemDescription", item.description)
    sub(node, f"{{{item.namespace}}}itemUnits", item.units)
    if item.namespace == POWER or item.scale is not None:
        sub(node, q(SCALE, "siScaleCode"), item.scale or "none")
    if item.namespace == POWER:
        attrs = sub(node, q(POWER, "powerAttributes"))
        sub(attrs, q(POWER, "hertz"), "60")
        sub(attrs, q(POWER, "voltage"), "240")
        sub(attrs, q(POWER, "ac"), "true")


def _format_float(value: float) -> str:
    return repr(float(value))

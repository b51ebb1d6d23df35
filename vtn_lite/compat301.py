"""Translation between OpenADR 3.0.1 bodies and the canonical 3.1.0 form (docs/openadr3.md §9).

3.0.1 targets are valuesMaps ``{type, values}``; 3.1.0 targets are plain strings. The strings are
the values; the typed form is kept in the object's ``extra`` so a 3.0.1 client reads back what
it wrote. 3.0.1 program fields that 3.1.0 moved into ``attributes`` (#320) map to the program
attribute enumeration of 3.1.0.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ven_edge.oadr3.operations import VERB_OF_OPERATION
from vtn_lite import bodytext, jsonstrict
from vtn_lite.storage import StoredObject

# 3.0.1 program field -> 3.1.0 program attribute type (enumerations-3.1.0, programAttributes).
PROGRAM_FIELD_ATTRIBUTES: dict[str, str] = {
    "programLongName": "PROGRAM_LONG_NAME",
    "retailerName": "RETAILER_NAME",
    "retailerLongName": "RETAILER_LONG_NAME",
    "programType": "PROGRAM_TYPE",
    "country": "COUNTRY",
    "principalSubdivision": "PRINCIPAL_SUBDIVISION",
    "bindingEvents": "BINDING_EVENTS",
    "localPrice": "LOCAL",
}
_ATTRIBUTE_FIELDS = {value: key for key, value in PROGRAM_FIELD_ATTRIBUTES.items()}
# 3.0.1 fields with no 3.1.0 home, kept in extra and given back on the 3.0.1 API.
PROGRAM_EXTRA_FIELDS = ("timeZoneOffset",)
# Type given to targets created through 3.1.0 when shown on the 3.0.1 API.
DEFAULT_TARGET_TYPE = "TARGET"
# User Guide §7.3: a start of 0001-01-01 means "now" (the beginning of time).
NOW_301 = "0001-01-01T00:00:00Z"


def targets_in(typed: Any) -> tuple[list[str] | None, list[Any] | None]:
    """3.0.1 typed targets -> (3.1 strings, typed form to keep); other shapes pass through."""
    if not isinstance(typed, list):
        return None, None
    strings: list[str] = []
    for item in typed:
        if isinstance(item, dict) and isinstance(item.get("values"), list):
            strings.extend(str(value) for value in item["values"])
        elif isinstance(item, str):
            strings.append(item)
    return strings, typed


def targets_out(strings: list[str] | None, typed: list[Any] | None) -> list[dict[str, Any]] | None:
    """Visible 3.1 strings -> 3.0.1 valuesMaps, keeping the types a 3.0.1 client sent."""
    if not strings:
        return None
    visible = set(strings)
    if typed:
        out = []
        for item in typed:
            if isinstance(item, dict) and isinstance(item.get("values"), list):
                values = [v for v in item["values"] if str(v) in visible]
                if values:
                    out.append({"type": item.get("type", DEFAULT_TARGET_TYPE), "values": values})
        if out:
            return out
    return [{"type": DEFAULT_TARGET_TYPE, "values": list(strings)}]


def program_in(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 3.0.1 program body -> (3.1 program body, extra)."""
    out = {key: value for key, value in body.items() if key not in PROGRAM_FIELD_ATTRIBUTES}
    extra: dict[str, Any] = {}
    attributes = list(out.get("attributes") or [])
    for field, attribute in PROGRAM_FIELD_ATTRIBUTES.items():
        value = body.get(field)
        if value is not None:
            attributes.append({"type": attribute, "values": [value]})
    if attributes:
        out["attributes"] = attributes
    for field in PROGRAM_EXTRA_FIELDS:
        if field in out:
            extra[field] = out.pop(field)
    _targets_in(out, extra)
    return out, extra


def program_out(body: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(body)
    remaining = []
    for attribute in out.pop("attributes", None) or []:
        field = _ATTRIBUTE_FIELDS.get(attribute.get("type"))
        values = attribute.get("values") or []
        if field is not None and len(values) == 1:
            out[field] = values[0]
        else:
            remaining.append(attribute)
    if remaining:
        out["attributes"] = remaining
    for field in PROGRAM_EXTRA_FIELDS:
        if extra and field in extra:
            out[field] = extra[field]
    return _targets_out(out, extra)


def generic_in(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    out = dict(body)
    extra: dict[str, Any] = {}
    _targets_in(out, extra)
    descriptors = out.get("reportDescriptors")
    if isinstance(descriptors, list):
        # An event's report descriptors carry targets too (valuesMaps in 3.0.1).
        typed: list[Any] = []
        converted = []
        for descriptor in descriptors:
            if isinstance(descriptor, dict):
                strings, kept = targets_in(descriptor.get("targets"))
                if strings is not None:
                    descriptor = {**descriptor, "targets": strings}
                typed.append(kept)
            converted.append(descriptor)
        out["reportDescriptors"] = converted
        if any(typed):
            extra["reportDescriptorTargets"] = typed
    return out, extra


def event_out(body: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    out = _targets_out(_event_periods_301(dict(body)), extra)
    out.setdefault("intervals", [])  # required in 3.0.1
    descriptors = out.get("reportDescriptors")
    if isinstance(descriptors, list):
        typed = (extra or {}).get("reportDescriptorTargets") or []
        shown = []
        for index, descriptor in enumerate(descriptors):
            if isinstance(descriptor, dict) and "targets" in descriptor:
                kept = typed[index] if index < len(typed) else None
                values = targets_out(descriptor["targets"], kept)
                descriptor = {k: v for k, v in descriptor.items() if k != "targets"}
                if values:
                    descriptor["targets"] = values
            shown.append(descriptor)
        out["reportDescriptors"] = shown
    return out


def report_out(body: dict[str, Any], program_id: str | None) -> dict[str, Any]:
    out = _periods_out(dict(body))
    if program_id is not None:
        out["programID"] = program_id  # required in 3.0.1, removed in 3.1 (#253)
    return out


def subscription_out(body: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    out = _targets_out(dict(body), extra)
    out["objectOperations"] = [
        {
            **entry,
            "operations": [VERB_OF_OPERATION.get(op, op) for op in entry.get("operations", [])],
        }
        for entry in body.get("objectOperations", [])
    ]
    return out


def ven_out(body: dict[str, Any], extra: dict[str, Any] | None, resources: list[Any]) -> Any:
    out = _targets_out(dict(body), extra)
    out.pop("clientID", None)
    out["resources"] = resources
    return out


def resource_out(body: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    out = _targets_out(dict(body), extra)
    out.pop("clientID", None)
    return out


def _targets_in(out: dict[str, Any], extra: dict[str, Any]) -> None:
    strings, typed = targets_in(out.get("targets"))
    if strings is None:
        return
    out["targets"] = strings
    if typed:
        extra["targets"] = typed


def _targets_out(out: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    typed = targets_out(out.pop("targets", None), (extra or {}).get("targets"))
    if typed:
        out["targets"] = typed
    return _periods_out(out)


def _event_periods_301(out: dict[str, Any]) -> dict[str, Any]:
    """Spell a 3.1 event's timing so that 3.0.1, where ``intervalPeriod.start`` is required,
    keeps it instead of dropping start-less periods (docs/openadr3.md §5).

    * The event starts where its first interval starts (its span's start in 3.1), so an event
      period holding only a duration gets that start.
    * An interval period without a start follows on from the previous interval in 3.1; the
      3.0.1 spelling of that is the "now" start, which on a later interval means "immediately
      after the previous one" and on the first interval "the event's start" (§5 "Now").
    * An interval period without a duration takes the event's default explicitly, since a 3.0.1
      reader may take the YAML default PT0S for the missing field.
    """
    period = out.get("intervalPeriod")
    intervals = out.get("intervals")
    default = period if isinstance(period, dict) else {}
    if isinstance(intervals, list):
        fixed = []
        for interval in intervals:
            own = interval.get("intervalPeriod") if isinstance(interval, dict) else None
            if isinstance(own, dict):
                own = {"start": NOW_301, **own}
                # Not randomizeStart: an interval with its own start and no randomizeStart of
                # its own shifts with the event's single draw (§5), not by a second one.
                if "duration" not in own and "duration" in default:
                    own["duration"] = default["duration"]
                interval = {**interval, "intervalPeriod": own}
            fixed.append(interval)
        out["intervals"] = fixed
        first = fixed[0].get("intervalPeriod") if fixed else None
        if (
            isinstance(period, dict)
            and "start" not in period
            and isinstance(first, dict)
            and first["start"] != NOW_301
        ):
            out["intervalPeriod"] = {"start": first["start"], **period}
    return out


def _periods_out(out: dict[str, Any]) -> dict[str, Any]:
    """3.0.1 requires intervalPeriod.start; a 3.1 period without one cannot be shown there."""
    period = out.get("intervalPeriod")
    if isinstance(period, dict) and "start" not in period:
        out = {key: value for key, value in out.items() if key != "intervalPeriod"}
    for key in ("intervals", "resources"):
        if isinstance(out.get(key), list):
            out[key] = [_periods_out(item) if isinstance(item, dict) else item for item in out[key]]
    return out


def object_out(stored: StoredObject, body: dict[str, Any]) -> dict[str, Any]:
    """Any stored object in its 3.0.1 shape (vens without their embedded resources), with
    ``targets`` last so that readers' views can be spliced (:func:`shown_text`)."""
    return bodytext.targets_last(_object_out(stored, body))


def _object_out(stored: StoredObject, body: dict[str, Any]) -> dict[str, Any]:
    kind = stored.kind
    if kind == "PROGRAM":
        return program_out(body, stored.extra)
    if kind == "EVENT":
        return event_out(body, stored.extra)
    if kind == "REPORT":
        return report_out(body, stored.program_id)
    if kind == "SUBSCRIPTION":
        return subscription_out(body, stored.extra)
    if kind == "RESOURCE":
        return resource_out(body, stored.extra)
    out = _targets_out(dict(body), stored.extra)
    out.pop("clientID", None)
    return out


@dataclass(frozen=True, slots=True)
class Text301:
    """An object's 3.0.1 JSON text without its targets and closing brace (``head``), and what
    decides the targets a reader sees: the stored 3.1 strings and the typed form kept from 3.0.1.

    The translation depends on the targets only through the ``targets`` key (which is last), so
    a reader's view is ``head`` plus its visible targets (docs/vtn-lite.md "Cheap polls").
    """

    head: str
    strings: tuple[Any, ...]
    typed: list[Any] | None


def text_301(stored: StoredObject) -> Text301:
    body = stored.body
    out = object_out(stored, body)
    out.pop("targets", None)
    return Text301(
        jsonstrict.dumps(out)[:-1],
        tuple(body.get("targets") or ()),
        (stored.extra or {}).get("targets"),
    )


def shown_text(text: Text301, visible: Collection[str] | None) -> str:
    """The 3.0.1 text of the object for a reader who sees ``visible`` (None: every target); the
    same bytes as rendering the reader's body and serialising :func:`object_out` of it."""
    strings = list(text.strings if visible is None else (t for t in text.strings if t in visible))
    typed = targets_out(strings, text.typed)
    if not typed:
        return text.head + "}"
    separator = "" if text.head == "{" else ","
    return f'{text.head}{separator}"targets":{jsonstrict.dumps(typed)}}}'


class Texts301:
    """:func:`text_301` per stored object, kept while its stored text and extra are unchanged,
    so a view rebuilt after a write translates only what was written. Bounded by count and by
    the text held (stored text and translation), least recently used first out."""

    def __init__(self, max_entries: int = 8192, max_chars: int = 32 * 1024 * 1024) -> None:
        self._entries: OrderedDict[int, tuple[str, dict[str, Any] | None, Text301]] = OrderedDict()
        self._max = max_entries
        self._max_chars = max_chars
        self._chars = 0

    def get(self, stored: StoredObject) -> Text301:
        entry = self._entries.get(stored.seq)
        if entry is not None and entry[0] == stored.body_text and entry[1] == stored.extra:
            self._entries.move_to_end(stored.seq)
            return entry[2]
        text = text_301(stored)
        self._drop(stored.seq)
        self._entries[stored.seq] = (stored.body_text, stored.extra, text)
        self._chars += _size(self._entries[stored.seq])
        while len(self._entries) > self._max or self._chars > self._max_chars:
            self._drop(next(iter(self._entries)))
        return text

    def _drop(self, seq: int) -> None:
        entry = self._entries.pop(seq, None)
        if entry is not None:
            self._chars -= _size(entry)


def _size(entry: tuple[str, Any, Text301]) -> int:
    return len(entry[0]) + len(entry[2].head)


def notification_out(operation: str, stored: StoredObject, shown: dict[str, Any]) -> dict[str, Any]:
    obj = object_out(stored, shown)
    note: dict[str, Any] = {
        "objectType": stored.kind,
        "operation": VERB_OF_OPERATION.get(operation, operation),
        "object": obj,
    }
    if obj.get("targets"):
        note["targets"] = obj["targets"]
    return note

"""The new-event form: every field checked server-side, then one OpenADR 3.1 event body.

Pure: the caller passes the form, the VENs, programs, events and the time; nothing is stored
here. Errors are per field (shown next to it); overlaps are warnings the operator confirms.
Targets (docs/console.md "Targets"): one or several VENs become their ``ven:<venID>`` targets
(granted to those VENs before the event is stored), a group is a target already granted to
VENs, and "all" is an untargeted event, which every VEN sees (3.1 Definition "Object Privacy").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from ven_edge.oadr3.timefmt import format_datetime
from vtn_lite.console.directory import VenEntry, ven_target
from vtn_lite.service import event_bounds

PAYLOAD_TYPES: Final = ("SIMPLE", "PRICE", "IMPORT_CAPACITY_LIMIT", "GHG")
TARGET_MODES: Final = ("vens", "group", "all")
MAX_DURATION_MIN: Final = 7 * 24 * 60
MAX_RANDOMIZE_MIN: Final = 24 * 60
#: A start "at a time" this far in the past is still taken (the form took a moment to fill).
PAST_GRACE_S: Final = 60.0
#: Reports asked of every dispatched event: the VEN reports these at its own cadence while the
#: event lasts (frequency 0, docs/openadr3.md §7).
REPORTS: Final = ("STORAGE_CHARGE_LEVEL", "OPERATING_STATE")
_UNITS: Final = {"IMPORT_CAPACITY_LIMIT": "KW", "GHG": "G_PER_KWH"}


@dataclass(frozen=True, slots=True)
class DispatchContext:
    now: float
    vens: Mapping[str, VenEntry]
    groups: Sequence[str]
    programs: Mapping[str, dict[str, Any]]  # id -> program body
    events: Sequence[dict[str, Any]]  # existing event bodies (overlap warnings)
    except_event: str | None = None  # the event being edited
    kept_start: float | None = None  # its start, which an edit may keep though it has passed


@dataclass(slots=True)
class DispatchResult:
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    body: dict[str, Any] | None = None
    grant: tuple[str, ...] = ()  # VEN ids to grant their ven: target first


def program_unit(program: Mapping[str, Any], payload_type: str) -> tuple[str | None, str | None]:
    """(currency, units) the program declares for a payload type."""
    for descriptor in program.get("payloadDescriptors") or []:
        if isinstance(descriptor, dict) and descriptor.get("payloadType") == payload_type:
            return descriptor.get("currency"), descriptor.get("units")
    return None, None


def _int_field(
    form: Mapping[str, str], name: str, low: int, high: int, errors: dict[str, str]
) -> int | None:
    raw = form.get(name, "").strip()
    try:
        value = int(raw)
    except ValueError:
        errors[name] = "a whole number is required"
        return None
    if not low <= value <= high:
        errors[name] = f"must be between {low} and {high}"
        return None
    return value


def _value(payload_type: str, raw: str, errors: dict[str, str]) -> float | int | None:
    raw = raw.strip()
    if payload_type == "SIMPLE":
        if raw not in ("0", "1", "2", "3"):
            errors["value"] = "SIMPLE levels are 0, 1, 2 or 3"
            return None
        return int(raw)
    try:
        number = float(raw)
    except ValueError:
        errors["value"] = "a number is required"
        return None
    if not math.isfinite(number) or abs(number) > 1e9:
        errors["value"] = "a finite number is required"
        return None
    if payload_type in ("IMPORT_CAPACITY_LIMIT", "GHG") and number < 0:
        errors["value"] = "must not be negative"
        return None
    return number


def parse_start(
    form: Mapping[str, str], now: float, errors: dict[str, str], kept: float | None = None
) -> datetime | None:
    """The start: "now", or the form's local time at the browser's UTC offset; ``kept`` (an
    edited event's start) is taken even when it has passed."""
    if form.get("start_mode", "now") == "now":
        return datetime.fromtimestamp(now, tz=UTC)
    raw = form.get("start_at", "").strip()
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        errors["start_at"] = "a date and time (YYYY-MM-DDTHH:MM) is required"
        return None
    if naive.tzinfo is None:
        try:
            # JavaScript's getTimezoneOffset(): minutes to add to local time to get UTC.
            offset = int(form.get("tz_offset", "") or "0")
        except ValueError:
            offset = 0
        if not -14 * 60 <= offset <= 14 * 60:
            offset = 0
        naive = naive.replace(tzinfo=timezone(timedelta(minutes=-offset)))
    start = naive.astimezone(UTC)
    if start.timestamp() < now - PAST_GRACE_S and start.timestamp() != kept:
        errors["start_at"] = "the start is in the past"
        return None
    return start


def validate_dispatch(form: Mapping[str, str], ctx: DispatchContext) -> DispatchResult:
    result = DispatchResult()
    errors = result.errors
    program = ctx.programs.get(form.get("program", ""))
    if program is None:
        errors["program"] = "choose a program"
    payload_type = form.get("payload_type", "")
    if payload_type not in PAYLOAD_TYPES:
        errors["payload_type"] = "choose a signal type"
    value = (
        _value(payload_type, form.get("value", ""), errors)
        if not errors.get("payload_type")
        else None
    )
    start = parse_start(form, ctx.now, errors, ctx.kept_start)
    duration = _int_field(form, "duration", 1, MAX_DURATION_MIN, errors)
    randomize = 0
    if form.get("randomize", "").strip():
        randomize = _int_field(form, "randomize", 0, MAX_RANDOMIZE_MIN, errors) or 0
    name = form.get("event_name", "").strip()
    if len(name) > 128:
        errors["event_name"] = "at most 128 characters"
    mode = form.get("target_mode", "")
    targets: list[str] = []
    chosen: list[VenEntry] = []
    if mode == "vens":
        ids = (
            [i for i in form.get("vens", "").split(",") if i]
            if isinstance(form.get("vens"), str)
            else []
        )
        ids = list(dict.fromkeys(ids))
        unknown = [i for i in ids if i not in ctx.vens]
        if not ids:
            errors["vens"] = "choose at least one VEN"
        elif unknown:
            errors["vens"] = f"unknown VEN: {', '.join(unknown[:3])}"
        else:
            chosen = [ctx.vens[i] for i in ids]
            targets = [ven_target(i) for i in ids]
            result.grant = tuple(v.id for v in chosen if ven_target(v.id) not in v.targets)
    elif mode == "group":
        group = form.get("group", "").strip()
        if group not in ctx.groups:
            errors["group"] = "choose a group granted to at least one VEN"
        else:
            targets = [group]
            chosen = [v for v in ctx.vens.values() if group in v.targets]
    elif mode == "all":
        chosen = list(ctx.vens.values())
    else:
        errors["target_mode"] = "choose whom to send it to"
    if errors or program is None or start is None or duration is None or value is None:
        return result
    payload_descriptor: dict[str, Any] = {"payloadType": payload_type}
    if payload_type == "PRICE":
        currency, units = program_unit(program, "PRICE")
        payload_descriptor.update(currency=currency or "USD", units=units or "KWH")
    elif payload_type in _UNITS:
        payload_descriptor["units"] = _UNITS[payload_type]
    period: dict[str, Any] = {"start": format_datetime(start), "duration": f"PT{duration}M"}
    if randomize:
        period["randomizeStart"] = f"PT{randomize}M"
    body: dict[str, Any] = {
        "programID": program["id"],
        "eventName": name or f"{payload_type} {value}",
        "priority": 0,
        "payloadDescriptors": [payload_descriptor],
        "intervalPeriod": period,
        "intervals": [{"id": 0, "payloads": [{"type": payload_type, "values": [value]}]}],
    }
    if targets:
        body["targets"] = targets
    if form.get("reports", "") == "on":
        body["reportDescriptors"] = [{"payloadType": kind, "frequency": 0} for kind in REPORTS]
    result.body = body
    if form.get("confirm") != "yes":
        result.warnings = overlaps(body, chosen, ctx)
    return result


def payload_types(body: Mapping[str, Any]) -> set[str]:
    return {
        payload["type"]
        for interval in body.get("intervals") or []
        for payload in (interval or {}).get("payloads") or []
        if isinstance(payload, dict) and isinstance(payload.get("type"), str)
    }


def overlaps(body: dict[str, Any], chosen: Iterable[VenEntry], ctx: DispatchContext) -> list[str]:
    """One line per existing event of the same type overlapping the new one for a chosen VEN."""
    now = datetime.fromtimestamp(ctx.now, tz=UTC)
    mine = event_bounds(body, now)
    kinds = payload_types(body)
    if mine is None:
        return []
    chosen = list(chosen)
    warnings = []
    for other in ctx.events:
        if other.get("id") == ctx.except_event or not kinds & payload_types(other):
            continue
        span = event_bounds(other, now)
        if span is None:
            continue
        ends_before = mine[1] is not None and mine[1] <= span[0]
        starts_after = span[1] is not None and span[1] <= mine[0]
        if ends_before or starts_after:
            continue
        other_targets = set(other.get("targets") or ())
        hit = [v for v in chosen if not other_targets or other_targets & set(v.targets)]
        if hit:
            names = ", ".join(v.name for v in hit[:3]) + (
                f" and {len(hit) - 3} more" if len(hit) > 3 else ""
            )
            shared = ", ".join(sorted(kinds & payload_types(other)))
            label = other.get("eventName") or other.get("id")
            warnings.append(f"{label} ({shared}) overlaps for {names}")
    return warnings

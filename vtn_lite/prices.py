"""Price import: Olivine eTOU-Dyn JSON or a (start, price) CSV -> a program and a PRICE event.

The JSON shapes are those of the pricing workflow's sample files (sample_data/SOURCES.md): a
program body with 3.0.1 program fields, and an event body whose ``programID`` is the literal
``PROGRAM_ID_PLACEHOLDER``, replaced here by the program's id.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ven_edge.oadr3.timefmt import TimeFormatError, format_datetime, parse_datetime
from vtn_lite import compat301, jsonstrict
from vtn_lite.auth import Principal
from vtn_lite.errors import ApiError
from vtn_lite.service import Vtn
from vtn_lite.storage import Query

PROGRAM_ID_PLACEHOLDER = "PROGRAM_ID_PLACEHOLDER"
HOUR = timedelta(hours=1)
# Definition "Event Payload Enumerations": PRICE is a float; units and currency in the descriptor.
PRICE = "PRICE"


class PriceImportError(ValueError):
    """Input that cannot become a price program or event, with the reason and the place."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    program_id: str
    program_created: bool
    event_ids: tuple[str, ...]


def price_descriptor(currency: str, units: str) -> dict[str, Any]:
    return {
        "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
        "payloadType": PRICE,
        "units": units,
        "currency": currency,
    }


def event_from_csv(
    text: str, program_id: str, *, currency: str, units: str, name: str | None = None
) -> dict[str, Any]:
    """Hourly (start, price) rows -> a PRICE event; rows must be consecutive hours."""
    try:
        parsed = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise PriceImportError(f"not a CSV file: {exc}") from None
    rows = [row for row in parsed if row and any(cell.strip() for cell in row)]
    if rows and not _is_datetime(rows[0][0]):
        rows = rows[1:]  # header
    if not rows:
        raise PriceImportError("the CSV holds no (start, price) rows")
    points = []
    for number, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise PriceImportError(f"row {number}: expected start,price, got {row!r}")
        try:
            start = parse_datetime(row[0])
        except TimeFormatError as exc:
            raise PriceImportError(f"row {number}: {exc}") from None
        if not _is_number(row[1]):
            raise PriceImportError(f"row {number}: price {row[1]!r} is not a number")
        points.append((start, float(row[1])))
    points.sort(key=lambda point: point[0])
    first = points[0][0]
    for index, (start, _) in enumerate(points):
        if start != first + index * HOUR:
            expected = format_datetime(first + index * HOUR)
            found = format_datetime(start)
            raise PriceImportError(
                f"prices must be consecutive hours: expected {expected}, found {found}"
            )
    return {
        "programID": program_id,
        "eventName": name or f"prices-{first.date().isoformat()}",
        "intervalPeriod": {"start": format_datetime(first), "duration": "PT1H"},
        "payloadDescriptors": [price_descriptor(currency, units)],
        "intervals": [
            {"id": index, "payloads": [{"type": PRICE, "values": [price]}]}
            for index, (_, price) in enumerate(points)
        ],
    }


def load_file(path: Path) -> tuple[str, Any]:
    """("program" | "event" | "csv", content)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceImportError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".csv":
        return "csv", text
    try:
        data = jsonstrict.loads(text)
    except ValueError as exc:
        raise PriceImportError(f"{path} is neither CSV nor JSON: {exc}") from None
    if isinstance(data, dict) and "intervals" in data:
        return "event", data
    if isinstance(data, dict) and "programName" in data:
        return "program", data
    raise PriceImportError(f"{path}: not an event (intervals) or a program (programName) body")


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import writes, independent of where: the program and the events for it."""

    program_name: str
    # From a program file (3.1 form); None: keep an existing program, or create a default one.
    program_body: dict[str, Any] | None
    default_program_body: dict[str, Any]
    # (source file, event body whose programID is still PROGRAM_ID_PLACEHOLDER)
    events: tuple[tuple[Path, dict[str, Any]], ...]

    def event_for(self, body: dict[str, Any], program_id: str) -> dict[str, Any]:
        out = dict(body)
        if out.get("programID") in (None, PROGRAM_ID_PLACEHOLDER, self.program_name):
            out["programID"] = program_id
        return out


def plan_import(
    files: list[Path], program_name: str, *, currency: str = "USD", units: str = "KWH"
) -> ImportPlan:
    """Read and check every file before anything is written."""
    program_body: dict[str, Any] | None = None
    events: list[tuple[Path, dict[str, Any]]] = []
    for path in files:
        kind, content = load_file(path)
        if kind == "program":
            program_body, _ = compat301.program_in({**content, "programName": program_name})
        elif kind == "csv":
            events.append(
                (
                    path,
                    event_from_csv(content, PROGRAM_ID_PLACEHOLDER, currency=currency, units=units),
                )
            )
        else:
            events.append((path, dict(content)))
    default = {
        "programName": program_name,
        "payloadDescriptors": [price_descriptor(currency, units)],
    }
    return ImportPlan(program_name, program_body, default, tuple(events))


async def import_prices(
    vtn: Vtn,
    principal: Principal,
    files: list[Path],
    program_name: str,
    *,
    currency: str = "USD",
    units: str = "KWH",
) -> ImportResult:
    """Offline import straight into a store: no webhook is sent (no server is involved)."""
    plan = plan_import(files, program_name, currency=currency, units=units)
    program, created = await _ensure_program(vtn, principal, plan)
    event_ids = []
    for path, body in plan.events:
        try:
            created_event = await vtn.create(principal, "EVENT", plan.event_for(body, program))
            event_ids.append(created_event["id"])
        except ApiError as exc:
            raise PriceImportError(f"{path}: {exc.detail}") from None
    return ImportResult(program, created, tuple(event_ids))


async def _ensure_program(vtn: Vtn, principal: Principal, plan: ImportPlan) -> tuple[str, bool]:
    name = plan.program_name
    existing = await vtn.store.search(Query(kind="PROGRAM", name=name, limit=1))
    body = plan.program_body
    if body is None:
        if existing:
            return existing[0].id, False
        body = plan.default_program_body
    try:
        if existing:
            updated = await vtn.update(principal, "PROGRAM", existing[0].id, body)
            return updated["id"], False
        created = await vtn.create(principal, "PROGRAM", body)
        return created["id"], True
    except ApiError as exc:
        raise PriceImportError(f"program {name!r}: {exc.detail}") from None


def _is_datetime(text: str) -> bool:
    try:
        parse_datetime(text)
    except TimeFormatError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value)

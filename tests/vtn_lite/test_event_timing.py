"""Event timing on both versions: P9999Y, randomizeStart, event duration, the ``active`` filter,
and 3.0.1 renderings of 3.1 start-less periods (docs/openadr3.md §5)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vtn_lite.conftest import Api, open_vtn
from tests.vtn_lite.schema import validate_component
from vtn_lite import compat301
from vtn_lite.auth import Principal
from vtn_lite.service import SearchParams, Vtn
from vtn_lite.storage_sqlite import MIGRATIONS, SqliteStore

BL = Principal("bl", "bl")
NOON = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()
PAYLOAD = [{"type": "PRICE", "values": [1.0]}]


async def _program(vtn: Vtn) -> str:
    # A fresh name each time: examples of one test share the test's database.
    program = await vtn.create(BL, "PROGRAM", {"programName": f"p-{uuid.uuid4()}"})
    return str(program["id"])


def _period(start: str | None = None, duration: str | None = None, **more: str) -> dict:
    period: dict[str, str] = dict(more)
    if start is not None:
        period["start"] = start
    if duration is not None:
        period["duration"] = duration
    return period


# (name, event fields, active at 12:00)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("over", {"intervalPeriod": _period("2026-03-01T10:00:00Z", "PT1H")}, False),
    ("running", {"intervalPeriod": _period("2026-03-01T11:30:00Z", "PT1H")}, True),
    ("forever", {"intervalPeriod": _period("2026-03-01T10:00:00Z", "P9999Y")}, True),
    ("now-forever", {"intervalPeriod": _period("0001-01-01", "P9999Y")}, True),
    (
        "repeated-forever",
        {"intervalPeriod": _period("2026-03-01T10:00:00Z", "PT1H"), "duration": "P9999Y"},
        True,
    ),
    (
        "truncated",
        {"intervalPeriod": _period("2026-03-01T11:00:00Z", "PT2H"), "duration": "PT30M"},
        False,
    ),
    # Ends 11:55 nominally, but a VEN may start up to 30 minutes late: not yet transpired.
    (
        "randomized",
        {"intervalPeriod": _period("2026-03-01T11:00:00Z", "PT55M", randomizeStart="PT30M")},
        True,
    ),
    (
        "randomized-negative-spelling",
        {"intervalPeriod": _period("2026-03-01T11:00:00Z", "PT55M", randomizeStart="-PT30M")},
        True,
    ),
    (
        "randomized-interval",
        {
            "intervalPeriod": None,
            "interval": _period("2026-03-01T11:00:00Z", "PT55M", randomizeStart="PT10M"),
        },
        True,
    ),
    (
        "randomized-but-over",
        {"intervalPeriod": _period("2026-03-01T10:00:00Z", "PT55M", randomizeStart="PT30M")},
        False,
    ),
    # Zero length (3.0.1's default PT0S) in the future has not transpired.
    ("instant-future", {"intervalPeriod": _period("2026-03-01T13:00:00Z")}, True),
    ("instant-past", {"intervalPeriod": _period("2026-03-01T11:00:00Z")}, False),
    # User Guide §7.9 cancellation: start "now", PT0S.
    ("cancelled", {"intervalPeriod": _period("0001-01-01T00:00:00Z", "PT0S")}, False),
    (
        "interval-forever",
        {"intervalPeriod": None, "interval": _period("2026-03-01T09:00:00Z", "P9999Y")},
        True,
    ),
]


def _event(program_id: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    interval: dict[str, Any] = {"id": 0, "payloads": PAYLOAD}
    fields = dict(fields)
    if "interval" in fields:
        interval["intervalPeriod"] = fields.pop("interval")
    return {"programID": program_id, "eventName": name, "intervals": [interval], **fields}


async def test_active_filter_respects_infinity_randomization_and_instants() -> None:
    async with open_vtn(clock=lambda: NOON) as vtn:
        program_id = await _program(vtn)
        for name, fields, _ in CASES:
            await vtn.create(BL, "EVENT", _event(program_id, name, fields))
        found = await vtn.search(BL, "EVENT", SearchParams(active=True))
        stored = {e["eventName"]: e for e in await vtn.search(BL, "EVENT", SearchParams())}
    active = {e["eventName"] for e in found}
    assert active == {name for name, _, expected in CASES if expected}
    # P9999Y is kept as written, never turned into a day count.
    assert stored["forever"]["intervalPeriod"]["duration"] == "P9999Y"
    assert stored["repeated-forever"]["duration"] == "P9999Y"


@pytest.mark.parametrize(
    ("period", "interval", "event_301", "interval_301"),
    [
        # 3.1: the event period holds only the default duration; the interval has the start.
        (
            {"duration": "PT1H"},
            {"start": "2026-03-01T11:30:00Z"},
            {"start": "2026-03-01T11:30:00Z", "duration": "PT1H"},
            {"start": "2026-03-01T11:30:00Z", "duration": "PT1H"},
        ),
        # An interval period without a start follows on: 3.0.1 says that with "now".
        (
            {"start": "2026-03-01T11:00:00Z", "duration": "PT1H", "randomizeStart": "PT5M"},
            {"duration": "PT2H"},
            {"start": "2026-03-01T11:00:00Z", "duration": "PT1H", "randomizeStart": "PT5M"},
            {"start": "0001-01-01T00:00:00Z", "duration": "PT2H"},
        ),
        (
            {"start": "2026-03-01T11:00:00Z", "duration": "P9999Y"},
            None,
            {"start": "2026-03-01T11:00:00Z", "duration": "P9999Y"},
            None,
        ),
    ],
)
async def test_301_keeps_31_timing(
    api: Api,
    api301: Api,
    period: dict[str, str],
    interval: dict[str, str] | None,
    event_301: dict[str, str],
    interval_301: dict[str, str] | None,
) -> None:
    program = await api.ok("POST", "/programs", body={"programName": "timing"})
    first: dict[str, Any] = {"id": 0, "payloads": PAYLOAD}
    if interval is not None:
        first["intervalPeriod"] = interval
    second = {"id": 1, "payloads": PAYLOAD}
    event = await api.ok(
        "POST",
        "/events",
        body={"programID": program["id"], "intervalPeriod": period, "intervals": [first, second]},
    )
    # Schema-validated by Api.call against the 3.0.1 YAML.
    shown = await api301.ok("GET", f"/events/{event['id']}")
    assert shown["intervalPeriod"] == event_301
    assert shown["intervals"][0].get("intervalPeriod") == interval_301
    assert "intervalPeriod" not in shown["intervals"][1]
    # The 3.1 view is what was written.
    assert (await api.ok("GET", f"/events/{event['id']}"))["intervalPeriod"] == period


async def test_stored_event_ends_are_recomputed_once_after_upgrade(tmp_path: Path) -> None:
    """A SQLite database written under schema version 1 (old `active` rule) is brought up to
    date (PostgreSQL's first schema already has the new rule)."""
    path = tmp_path / "vtn.sqlite"
    async with open_vtn(str(path), clock=lambda: NOON) as vtn:
        program_id = await _program(vtn)
        for name, fields, _ in CASES:
            await vtn.create(BL, "EVENT", _event(program_id, name, fields))
    # Back to what version 1 stored: the randomized and future-instant events as over.
    with sqlite3.connect(path) as db:
        db.execute("UPDATE objects SET ends_at = 0.0 WHERE name LIKE 'randomized%'")
        db.execute("UPDATE objects SET ends_at = 0.0 WHERE name = 'instant-future'")
        db.execute("DROP TABLE pending_refresh")
        for index in ("program_name", "ven_name", "ven_client", "resource_name"):
            db.execute(f"DROP INDEX objects_{index}")  # added by version 4
        db.execute("PRAGMA user_version = 1")
    store = SqliteStore(path)
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        vtn = Vtn(store, clock=lambda: NOON)
        await vtn.refresh_derived()
        found = await vtn.search(BL, "EVENT", SearchParams(active=True))
        assert {e["eventName"] for e in found} == {name for name, _, expected in CASES if expected}
        assert await store.pending_refresh() == set()
    finally:
        await store.close()


_starts = st.sampled_from(
    [None, "2026-03-01T11:00:00Z", "0001-01-01", "0000-00-00", "2026-03-01T11:00:00+02:00"]
)
_durations = st.sampled_from([None, "PT1H", "PT0S", "P9999Y", "P1W", "P1M", "PT15M"])
_periods = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "start": _starts,
            "duration": _durations,
            "randomizeStart": st.sampled_from([None, "PT5M", "-PT5M"]),
        },
    ),
)


@given(
    period=_periods,
    interval_periods=st.lists(_periods, min_size=0, max_size=3),
    duration=_durations,
)
@settings(max_examples=60, deadline=None)
def test_any_31_timing_renders_as_valid_301(
    period: dict[str, Any] | None, interval_periods: list[Any], duration: str | None
) -> None:
    asyncio.run(_check_timing_renders_as_301(period, interval_periods, duration))


async def _check_timing_renders_as_301(
    period: dict[str, Any] | None, interval_periods: list[Any], duration: str | None
) -> None:
    async with open_vtn(clock=lambda: NOON) as vtn:
        program_id = await _program(vtn)
        body: dict[str, Any] = {
            "programID": program_id,
            "intervalPeriod": period,
            "duration": duration,
            "intervals": [
                {"id": n, "intervalPeriod": p, "payloads": PAYLOAD}
                for n, p in enumerate(interval_periods)
            ],
        }
        event = await vtn.create(BL, "EVENT", body)
        stored = await vtn.store.get("EVENT", event["id"])
        assert stored is not None
        shown = compat301.object_out(stored, stored.body)
        validate_component("3.0.1", "event", shown)
        # Timing is never lost: every 3.1 interval duration is still there for the 3.0.1 reader.
        for original, rendered in zip(event["intervals"], shown["intervals"], strict=True):
            own = original.get("intervalPeriod") or {}
            if "duration" in own and "intervalPeriod" in rendered:
                assert rendered["intervalPeriod"]["duration"] == own["duration"]
        if duration is not None:
            assert shown["duration"] == duration

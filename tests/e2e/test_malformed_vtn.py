"""Malformed VTN payloads (hypothesis) pushed to the gateway's webhook: each is refused or
ignored with a clear answer, never a server error, and the last good plan keeps the heater in
the event."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil.heater import DrEvent
from tests.conftest import free_port, wait_for
from tests.e2e.harness import (
    UtilityDriver,
    demo_vtn,
    heater_on_pty,
    make_config,
    running_daemon,
)
from ven_edge.control import CommandKind
from ven_edge.grid_port import WEBHOOK_PATH

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Values of the wrong type or form for each field. Null reads as "absent" (OpenADR 3), so a null
# or missing ``intervals`` (required on an event that is not report-only) is a malformation too;
# ``intervals: []`` is a valid edit and not here. ABSENT removes the field.
ABSENT = object()
letters = st.text(alphabet="abcxyz-:", min_size=1, max_size=6)
BAD_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "payload_values": st.one_of(letters, st.just({"x": 1}), st.integers()),
    "start": st.one_of(letters, st.integers(), st.just(["2026-01-01"])),
    "intervals": st.one_of(
        letters,
        st.just({"id": 0}),
        st.lists(st.integers(), min_size=1),
        st.none(),
        st.just(ABSENT),
    ),
    "intervalPeriod": st.one_of(letters, st.just([1]), st.just({"start": "yesterday"})),
    "priority": st.one_of(letters, st.integers(max_value=-1), st.just({"p": 0})),
    "payloadDescriptors": st.one_of(letters, st.just({"payloadType": 5})),
}


def corrupt_event(event: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    broken = json.loads(json.dumps(event))
    if field == "payload_values":
        broken["intervals"][0]["payloads"][0]["values"] = value
    elif field == "start":
        broken["intervalPeriod"]["start"] = value
    elif value is ABSENT:
        del broken[field]
    else:
        broken[field] = value
    return broken


payloads = st.one_of(
    json_values.map(lambda v: ("raw", v)),
    st.sampled_from(sorted(BAD_FIELDS)).flatmap(
        lambda f: BAD_FIELDS[f].map(lambda v: ("event", (f, v)))
    ),
    st.binary(max_size=40).map(lambda b: ("bytes", b)),
)


async def scenario(cases: list[tuple[str, Any]], tmp_path: Path) -> None:
    async with demo_vtn(tmp_path) as vtn, heater_on_pty(tmp_path) as sim:
        hook = free_port()
        config = make_config(
            tmp_path, sim.path, vtn_url=vtn.base_url, poll_interval_s=600, webhook_port=hook
        )
        async with running_daemon(config) as parts, UtilityDriver(vtn.base_url) as utility:
            grid: Any = parts.grid
            await wait_for(lambda: grid.link.health.subscribed, 5, "webhook subscription")
            program = await utility.program()
            event_id = await utility.simple_event(program, 1, datetime.now(UTC), timedelta(hours=1))
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, 3, "Shed")
            good_event = {
                "id": event_id,
                "programID": program,
                "priority": 0,
                "intervalPeriod": {"start": datetime.now(UTC).isoformat(), "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
            }
            headers = {"Authorization": f"Bearer {grid.webhook.bearer_token}"}
            url = f"http://127.0.0.1:{hook}{WEBHOOK_PATH}"
            async with aiohttp.ClientSession() as http:
                for kind, value in cases:
                    if kind == "bytes":
                        body = value
                    elif kind == "raw":
                        body = json.dumps(value).encode()
                    else:
                        field, bad = value
                        body = json.dumps(
                            {
                                "objectType": "EVENT",
                                "operation": "UPDATE",
                                "object": corrupt_event(good_event, field, bad),
                            }
                        ).encode()
                    async with http.post(url, data=body, headers=headers) as resp:
                        text = await resp.text()
                        assert resp.status < 500, text
                        if resp.status == 400:
                            assert text.startswith("malformed notification"), text
            await asyncio.sleep(0.3)
            active = parts.daemon.controller.desired(parts.daemon.clock.now())
            assert active is not None, "the event was lost"
            assert active.kind is CommandKind.SHED
            assert active.event_id == event_id
            assert sim.heater.event is DrEvent.SHED


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cases=st.lists(payloads, min_size=15, max_size=15))
def test_malformed_pushes_never_lose_the_good_plan(
    cases: list[tuple[str, Any]], tmp_path_factory: Any
) -> None:
    asyncio.run(scenario(cases, tmp_path_factory.mktemp("malformed")))

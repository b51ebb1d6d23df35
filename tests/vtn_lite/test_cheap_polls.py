"""Cheap polls: responses assembled from stored JSON text (per-VEN target lists spliced) give
the same bytes as parsing and re-serialising, and ETag / If-None-Match answers 304 per view.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vtn_lite.conftest import Api, Receiver, open_vtn
from tests.vtn_lite.kinds import INTERVALS, grant, make_world
from vtn_lite import bodytext, jsonstrict
from vtn_lite.auth import Principal
from vtn_lite.service import SearchParams, Vtn
from vtn_lite.storage import IndexFields

BL = Principal("bl", "bl")
TARGET_NAMES = st.text(min_size=1, max_size=6)
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        # "targets" inside nested values must not confuse the splice.
        st.dictionaries(st.sampled_from(["targets", "a", ',"targets":', "x"]), inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(
    body=st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=5),
    targets=st.lists(TARGET_NAMES, max_size=5),
    shown=st.frozensets(TARGET_NAMES, max_size=4),
)
def test_splice_equals_parse_and_render(
    body: dict[str, Any], targets: list[str], shown: frozenset[str]
) -> None:
    stored = jsonstrict.dumps(bodytext.targets_last({"id": "x", **body, "targets": targets}))
    spliced = bodytext.with_targets(stored, shown)
    rendered = json.loads(stored)
    rendered["targets"] = [t for t in rendered["targets"] if t in shown]
    assert spliced == jsonstrict.dumps(rendered)


@settings(max_examples=200)
@given(body=st.dictionaries(st.text(max_size=6), JSON_VALUES, min_size=1, max_size=5))
def test_text_with_targets_elsewhere_is_not_spliced(body: dict[str, Any]) -> None:
    # Written before targets went last: the splice declines and the parse path answers.
    text = jsonstrict.dumps({"id": "x", "targets": ["a", "b"], **body, "zz": 1})
    assert bodytext.with_targets(text, {"a"}) is None


async def _seed(vtn: Vtn) -> dict[str, Any]:
    program = await vtn.create(BL, "PROGRAM", {"programName": "p", "targets": ["g1", "g2"]})
    for n, targets in enumerate([["g1", "secret"], ["g2"], [], ["g1", "g2", "g3"]]):
        await vtn.create(
            BL,
            "EVENT",
            {
                "programID": program["id"],
                "eventName": f"e{n}",
                "targets": targets,
                "intervals": INTERVALS,
            },
        )
    for client, targets in (("ven-a", ["g1"]), ("ven-b", ["g2", "g3"])):
        await vtn.create(
            BL,
            "VEN",
            {
                "objectType": "BL_VEN_REQUEST",
                "clientID": client,
                "venName": client,
                "targets": targets,
            },
        )
    return program


async def test_text_views_equal_rendered_views() -> None:
    async with open_vtn() as vtn:
        program = await _seed(vtn)
        # An event stored before targets went last: answered through the parse path.
        legacy = {
            "id": "legacy",
            "createdDateTime": "2026-01-01T00:00:00Z",
            "modificationDateTime": "2026-01-01T00:00:00Z",
            "objectType": "EVENT",
            "targets": ["g1", "g9"],
            "programID": program["id"],
            "intervals": INTERVALS,
        }
        index = IndexFields(program_id=program["id"], targets=("g1", "g9"))
        await vtn.store.insert("EVENT", "legacy", index, legacy)
        principals = [
            BL,
            Principal("ven-a", "ven"),
            Principal("ven-b", "ven"),
            Principal("none", "ven"),
        ]
        for principal in principals:
            for kind in ("PROGRAM", "EVENT"):
                for targets in (None, ("g1",), ("g2", "g3"), ("nope",)):
                    for read_all in (False, True):
                        params = SearchParams(targets=targets, read_all=read_all)
                        texts = await vtn.search_texts(principal, kind, params)
                        parsed = await vtn.search(principal, kind, params)
                        assert bodytext.json_array(texts) == jsonstrict.dumps(parsed).encode()
        ven_a = Principal("ven-a", "ven")
        text = await vtn.get_text(ven_a, "EVENT", "legacy", None)
        assert text == jsonstrict.dumps(await vtn.get(ven_a, "EVENT", "legacy"))
        assert json.loads(text)["targets"] == ["g1"]


async def test_a_stored_nan_is_left_out_not_served(caplog: pytest.LogCaptureFixture) -> None:
    async with open_vtn() as vtn:
        program = await vtn.create(BL, "PROGRAM", {"programName": "p"})
        good = await vtn.create(BL, "EVENT", {"programID": program["id"], "intervals": INTERVALS})
        # As a vtn_lite from before NaN was refused could have stored it.
        bad_body = {
            **good,
            "id": "bad",
            "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [float("nan")]}]}],
        }
        await vtn.store.insert("EVENT", "bad", IndexFields(program_id=program["id"]), bad_body)
        with caplog.at_level(logging.ERROR, logger="vtn_lite.service"):
            texts = await vtn.search_texts(Principal("ven-a", "ven"), "EVENT", SearchParams())
    served = jsonstrict.loads(bodytext.json_array(texts))
    assert [event["id"] for event in served] == [good["id"]]
    assert any("bad" in record.getMessage() for record in caplog.records)


async def _get(
    api: Api, path: str, who: str, etag: str | None = None, **params: str
) -> aiohttp.ClientResponse:
    headers = {"Authorization": f"Bearer {api.tokens[who]}"}
    if etag is not None:
        headers["If-None-Match"] = etag
    async with api.session.get(api.base + path, headers=headers, params=params) as response:
        await response.read()
        return response


async def _grant(api: Api, client: str, name: str, targets: list[str]) -> None:
    await api.ok(
        "POST",
        "/vens",
        "bl",
        {"objectType": "BL_VEN_REQUEST", "clientID": client, "venName": name, "targets": targets},
    )


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
async def test_etags_are_per_view_and_304_when_unchanged(
    api: Api, api301: Api, receiver: Receiver, version: str
) -> None:
    world = await make_world(api, receiver)
    client = api if version == "3.1.0" else api301
    await grant(api, world.ven_id, ["g1"])
    await _grant(api, "ven_client2", "ven-two", ["g2"])
    g1 = await api.ok(
        "POST",
        "/events",
        body={"programID": world.program_id, "targets": ["g1"], "intervals": INTERVALS},
    )
    g2 = await api.ok(
        "POST",
        "/events",
        body={"programID": world.program_id, "targets": ["g2"], "intervals": INTERVALS},
    )
    first = await _get(client, "/events", "ven")
    other = await _get(client, "/events", "ven2")
    assert first.status == other.status == 200
    etag = first.headers["ETag"]
    assert etag != other.headers["ETag"]  # the two VENs see different events
    assert "private" in first.headers["Cache-Control"]
    again = await _get(client, "/events", "ven", etag)
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert (await _get(client, "/events", "ven", f'W/{etag}, "other"')).status == 304
    # Another view's tag does not match this one.
    assert (await _get(client, "/events", "ven", other.headers["ETag"])).status == 200
    # A change the VEN cannot see leaves its view, and its ETag, as they were.
    for event, target, name in ((g2, "g2", "moved"), (g1, "g1", "renamed")):
        body = {**_event(world.program_id, "2030-01-01T00:00:00Z", [target]), "eventName": name}
        await api.ok("PUT", f"/events/{event['id']}", "bl", body)
        if event is g2:
            assert (await _get(client, "/events", "ven", etag)).status == 304
    # The change to an event it sees changed the tag.
    changed = await _get(client, "/events", "ven", etag)
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    # Single objects too.
    one = await _get(client, f"/events/{g1['id']}", "ven")
    assert (await _get(client, f"/events/{g1['id']}", "ven", one.headers["ETag"])).status == 304


def _event(program_id: str, start: str, targets: list[str]) -> dict[str, Any]:
    return {
        "programID": program_id,
        "targets": targets,
        "intervalPeriod": {"start": start, "duration": "PT1H"},
        "intervals": INTERVALS,
    }


async def test_views_are_shared_by_a_group_and_rebuilt_on_change(
    backend: str, storage_url: str, tmp_path: Path
) -> None:
    # Two stores on one database: two processes on SQLite (an offline price import, say), two
    # workers on PostgreSQL.
    url = str(tmp_path / "vtn.sqlite") if backend == "sqlite" else storage_url
    async with open_vtn(url) as vtn, open_vtn(url) as other:
        await _seed(vtn)
        await vtn.create(
            BL,
            "VEN",
            {
                "objectType": "BL_VEN_REQUEST",
                "clientID": "ven-a2",
                "venName": "a2",
                "targets": ["g1"],
            },
        )
        params = SearchParams()
        first = await vtn.search_view(Principal("ven-a", "ven"), "EVENT", params)
        # Another VEN of the same group: the same view, from the cache.
        assert await vtn.search_view(Principal("ven-a2", "ven"), "EVENT", params) == first
        assert vtn._views.hits == 1
        # Another group: another view.
        other_group = await vtn.search_view(Principal("ven-b", "ven"), "EVENT", params)
        assert other_group.etag != first.etag
        # A write by the other connection is seen at once, with no notice in between.
        program = (await other.search(BL, "PROGRAM", SearchParams()))[0]
        body = _event(program["id"], "2030-01-01T00:00:00Z", ["g1"])
        added = await other.create(BL, "EVENT", body)
        after = await vtn.search_view(Principal("ven-a", "ven"), "EVENT", params)
        assert added["id"] in after.body.decode()
        assert after.etag != first.etag
        # ... as is a grant changed by the other connection.
        ven_b = (await other.search(BL, "VEN", SearchParams(ven_name="ven-b")))[0]
        await other.update(
            BL,
            "VEN",
            ven_b["id"],
            {
                "objectType": "BL_VEN_REQUEST",
                "clientID": "ven-b",
                "venName": "ven-b",
                "targets": ["g1"],
            },
        )
        view_b = await vtn.search_view(Principal("ven-b", "ven"), "EVENT", params)
        assert view_b.body == after.body


async def test_active_views_expire_when_an_event_in_them_ends() -> None:
    now = [1_900_000_000.0]  # 2030-03-17T17:46:40Z
    async with open_vtn(clock=lambda: now[0]) as vtn:
        program = await vtn.create(BL, "PROGRAM", {"programName": "p"})
        ending = await vtn.create(BL, "EVENT", _event(program["id"], "2030-03-17T17:00:00Z", []))
        later = await vtn.create(BL, "EVENT", _event(program["id"], "2030-03-17T19:00:00Z", []))
        ven = Principal("ven-a", "ven")
        params = SearchParams(active=True)
        ids = lambda view: [e["id"] for e in json.loads(view.body)]  # noqa: E731
        assert ids(await vtn.search_view(ven, "EVENT", params)) == [ending["id"], later["id"]]
        now[0] += 600  # 17:56:40, still running
        assert ids(await vtn.search_view(ven, "EVENT", params)) == [ending["id"], later["id"]]
        assert vtn._views.hits == 1
        now[0] += 240  # 18:00:40: the first event has ended, with no write in between
        assert ids(await vtn.search_view(ven, "EVENT", params)) == [later["id"]]

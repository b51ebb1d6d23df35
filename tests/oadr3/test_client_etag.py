"""The VEN client polls with If-None-Match and takes a 304 as "unchanged" (against vtn_lite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oadr3.test_client_vtn import Utility, ven_settings, vtn_at
from ven_edge.oadr3.client import VtnClient


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
async def test_unchanged_polls_are_304_and_changes_still_arrive(
    tmp_path: Path, version: str
) -> None:
    async with vtn_at(tmp_path) as vtn:
        base = vtn.base_url if version == "3.1.0" else vtn.base_url_301
        async with Utility(vtn.base_url) as bl, VtnClient(ven_settings(base, version)) as ven:
            first_id = await bl.event(0.1, start="2030-01-01T01:00:00Z")
            first = await ven.poll_once()
            assert first.added == (first_id,)
            assert ven.not_modified == 0
            unchanged = await ven.poll_once()
            assert not unchanged.changed
            # Programs and events both unchanged: each page answered 304, and the events
            # read before are still the client's.
            assert ven.not_modified == 2
            assert list(ven.events) == [first_id]
            second_id = await bl.event(0.2, start="2030-01-01T02:00:00Z")
            changed = await ven.poll_once()
            assert changed.added == (second_id,)
            assert ven.not_modified == 3  # the programs page only
            assert sorted(ven.events) == sorted([first_id, second_id])
            await bl.client.request("DELETE", f"/events/{first_id}")
            removed = await ven.poll_once()
            assert removed.removed == (first_id,)

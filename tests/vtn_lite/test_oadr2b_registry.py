"""2.0b registrations: the states an operator and a VEN move them through, on both backends,
the ``vtn-lite oadr2b`` command and the ``[oadr2b]`` configuration table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vtn_lite.conftest import open_vtn
from vtn_lite.cli import main
from vtn_lite.config import ConfigError, parse_config
from vtn_lite.oadr2b.registry import PartyRequest, Refused, Registry
from vtn_lite.service import Vtn

FP_A = "AA:BB:CC:DD:EE:FF:00:11:22:33"
FP_B = "00:11:22:33:44:55:66:77:88:99"


def _registry(vtn: Vtn, *, auto: bool = False) -> Registry:
    return Registry(vtn, fingerprints={"fixed": FP_A}, auto_approve=auto, clock=lambda: 1000.0)


async def test_pending_until_approved_then_bound_to_its_certificate() -> None:
    async with open_vtn() as vtn:
        registry = _registry(vtn)
        first = await registry.request(PartyRequest("wh", FP_A, {}))
        assert first.state == "pending"
        assert first.ven_id is None
        assert (await registry.request(PartyRequest("wh", FP_A, {}))).state == "pending"
        approved = await registry.approve("wh")
        assert approved.state == "approved"
        assert approved.ven_id is not None
        assert approved.registration_id is not None
        ven = await vtn.stored("VEN", approved.ven_id)
        assert ven is not None
        assert ven.client_id == "oadr2b:wh"
        # Another certificate cannot take over the approved name.
        with pytest.raises(Refused) as refused:
            await registry.request(PartyRequest("wh", FP_B, {}))
        assert refused.value.code == 463
        again = await registry.request(PartyRequest("wh", FP_A, {}))
        assert (again.state, again.ven_id) == ("approved", approved.ven_id)


async def test_configured_fingerprint_is_required() -> None:
    async with open_vtn() as vtn:
        registry = _registry(vtn, auto=True)
        with pytest.raises(Refused) as refused:
            await registry.request(PartyRequest("fixed", FP_B, {}))
        assert refused.value.code == 463
        assert await vtn.store.oadr2b_registration("fixed") is None
        assert (await registry.request(PartyRequest("fixed", FP_A, {}))).state == "approved"


async def test_a_ven_that_cancelled_comes_back_and_a_revoked_one_asks_again() -> None:
    async with open_vtn() as vtn:
        registry = _registry(vtn, auto=False)
        await registry.request(PartyRequest("a", None, {}))
        approved = await registry.approve("a")
        await registry.cancelled_by_ven(approved)
        back = await registry.request(PartyRequest("a", None, {}))
        assert (back.state, back.ven_id) == ("approved", approved.ven_id)
        revoking = await registry.revoke("a")
        assert revoking.state == "cancelling"
        await registry.revoked(revoking)
        asked = await registry.request(PartyRequest("a", None, {}))
        assert asked.state == "pending"


async def test_a_3x_ven_keeps_its_name() -> None:
    async with open_vtn() as vtn:
        from vtn_lite.auth import Principal

        await vtn.create(
            Principal("bl", "bl"),
            "VEN",
            {"objectType": "BL_VEN_REQUEST", "clientID": "c1", "venName": "taken"},
        )
        with pytest.raises(Refused) as refused:
            await _registry(vtn, auto=True).request(PartyRequest("taken", None, {}))
        assert refused.value.code == 463
        assert "a ven named 'taken' exists" in refused.value.reason


async def test_modification_numbers_follow_event_versions_and_cancellation() -> None:
    async with open_vtn() as vtn:
        store = vtn.store
        assert await store.oadr2b_modification("e1", "t1") == 0
        assert await store.oadr2b_modification("e1", "t1") == 0
        assert await store.oadr2b_modification("e1", "t2") == 1
        assert await store.oadr2b_cancel("e1", '{"id":"e1"}', keep_until=2000.0) == 2
        assert await store.oadr2b_cancelled(1500.0) == [("e1", 2, '{"id":"e1"}')]
        assert await store.oadr2b_cancelled(2500.0) == []


def test_cli_approves_a_pending_registration(tmp_path: Path, storage_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    config = tmp_path / "vtn.toml"
    database = storage_url if storage_url != ":memory:" else str(tmp_path / "vtn.sqlite")
    config.write_text(
        f'[storage]\nurl = "{database}"\n[oadr2b]\nenabled = true\nlab_plain_http = true\n'
    )

    async def request() -> None:
        async with open_vtn(database) as vtn:
            await _registry(vtn).request(PartyRequest("cli_ven", None, {}))

    asyncio.run(request())
    assert main(["oadr2b", "list", "--config", str(config)]) == 0
    assert "cli_ven\tpending" in capsys.readouterr().out
    assert main(["oadr2b", "approve", "cli_ven", "--config", str(config)]) == 0
    assert "cli_ven: approved" in capsys.readouterr().out
    assert main(["oadr2b", "reject", "nobody", "--config", str(config)]) == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"enabled": True}, "needs tls_cert, tls_key and tls_ca"),
        ({"enabled": True, "lab_plain_http": True, "host": "0.0.0.0"}, "loopback host only"),
        ({"enabled": True, "lab_plain_http": True, "vtn_id": "lower"}, "not all lower case"),
        ({"enabled": True, "lab_plain_http": True, "pol_interval": 5}, "did you mean"),
        ({"enabled": True, "tls_cert": "a.crt", "tls_key": "a.key"}, "go together"),
        (
            {"enabled": True, "lab_plain_http": True, "fingerprints": {"v": "12:34"}},
            "ten colon-separated hex bytes",
        ),
    ],
)
def test_oadr2b_table_is_checked(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"oadr2b": table})


def test_oadr2b_table_parses() -> None:
    config = parse_config(
        {
            "oadr2b": {
                "enabled": True,
                "tls_cert": "v.crt",
                "tls_key": "v.key",
                "tls_ca": "ca.crt",
                "fingerprints": {"wh": FP_A.lower()},
            }
        },
        base_dir=Path("/etc/vtn"),
    )
    assert config.oadr2b is not None
    assert config.oadr2b.tls_ca == "/etc/vtn/ca.crt"
    assert config.oadr2b.fingerprints == {"wh": FP_A}
    assert parse_config({"oadr2b": {"enabled": False}}).oadr2b is None


async def test_records_are_listed_newest_first_and_pruned_by_age() -> None:
    async with open_vtn() as vtn:
        store = vtn.store
        await store.add_oadr2b_record("v1", "report", 100.0, {"n": 1})
        await store.add_oadr2b_record("v2", "report", 200.0, {"n": 2})
        await store.add_oadr2b_record("v1", "opt", 300.0, {"n": 3})
        assert [r.body["n"] for r in await store.oadr2b_records("report")] == [2, 1]
        assert [r.body["n"] for r in await store.oadr2b_records("report", ven_id="v1")] == [1]
        assert await store.prune_oadr2b_records(150.0) == 1
        assert [r.body["n"] for r in await store.oadr2b_records("report")] == [2]
        assert [r.body["n"] for r in await store.oadr2b_records("opt")] == [3]


async def test_kept_event_lists_follow_the_clock_and_writes() -> None:
    """A VEN's event list is kept between polls, yet a status change at dtstart and a new
    event are sent at the next poll (injected clock, no waiting)."""
    from datetime import UTC, datetime

    from ven_edge.oadr2b.events import EventStatus
    from vtn_lite.auth import Principal
    from vtn_lite.oadr2b.eventfeed import EventFeed

    now = [datetime(2030, 1, 1, 11, 59, 30, tzinfo=UTC).timestamp()]
    async with open_vtn(clock=lambda: now[0]) as vtn:
        registry = Registry(vtn, fingerprints={}, auto_approve=True, clock=lambda: now[0])
        feed = EventFeed(vtn, clock=lambda: now[0])
        registration = await registry.request(PartyRequest("clocked", None, {}))
        bl = Principal("bl", "bl")
        program = await vtn.create(bl, "PROGRAM", {"programName": "p"})

        def event(level: int) -> dict[str, object]:
            return {
                "programID": program["id"],
                "intervalPeriod": {"start": "2030-01-01T12:00:00Z", "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [level]}]}],
            }

        await vtn.create(bl, "EVENT", event(1))
        [far] = await feed.events_for(registration)
        assert far.status is EventStatus.FAR
        now[0] += 20
        assert await feed.events_for(registration) == [far]  # kept: nothing changed
        now[0] += 15  # past dtstart, well inside the longest a list is kept
        [active] = await feed.events_for(registration)
        assert active.status is EventStatus.ACTIVE
        assert active.signals[0].current_value == 1.0
        await vtn.create(bl, "EVENT", event(2))
        assert len(await feed.events_for(registration)) == 2

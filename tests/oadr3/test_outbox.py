"""The report outbox journal: appended not rewritten, tried before sent, restored after a crash."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.oadr3 import outbox as outbox_module
from ven_edge.oadr3.errors import VtnHttpError, VtnUnreachableError
from ven_edge.oadr3.outbox import COMPACT_SLACK, DELIVERED_MEMORY, ReportOutbox
from ven_edge.store import StateStore


def report(n: int, event: str = "ev1") -> dict[str, Any]:
    return {"eventID": event, "reportName": f"gw/{event}/USAGE/{n}", "resources": [{"n": n}]}


class FakeVtn:
    """Accepts reports (or is down); remembers them; checks each was journaled as tried."""

    def __init__(self, outbox: ReportOutbox | None = None) -> None:
        self.outbox = outbox
        self.reports: list[str] = []
        self.down = False
        self.refuse: set[str] = set()

    async def create_report(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        name = body["reportName"]
        if self.outbox is not None:
            # Exactly once: a restart must know this report may have been sent.
            assert {"tried": name} in journal(self.outbox)
        if self.down:
            raise VtnUnreachableError("POST /reports: connection refused")
        if name in self.refuse:
            raise VtnHttpError("POST", "/reports", 404, "event gone")
        self.reports.append(name)
        return dict(body)

    async def find_reports(self, event_id: str | None = None) -> list[Mapping[str, Any]]:
        return [{"reportName": name} for name in self.reports]


def journal(outbox: ReportOutbox) -> list[Any]:
    return [json.loads(line) for line in outbox.path.read_bytes().splitlines()]


def written(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files the store rewrites (atomically) from now on."""
    names: list[str] = []
    original = store.write_atomic

    def record(target: Path, data: bytes) -> None:
        names.append(target.name)
        original(target, data)

    monkeypatch.setattr(store, "write_atomic", record)
    return names


async def test_queueing_appends_one_line_per_report_and_rewrites_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path)
    outbox = ReportOutbox(store)
    rewrites = written(store, monkeypatch)
    for n in range(1200):
        assert outbox.add(report(n))
    assert not outbox.add(report(7))  # known name: not queued twice
    await outbox.durable()
    assert rewrites == []
    lines = journal(outbox)
    assert lines == [{"add": report(n)} for n in range(1200)]
    assert stat.S_IMODE(outbox.path.stat().st_mode) == 0o600
    assert [b["reportName"] for b in ReportOutbox(store).pending] == [
        report(n)["reportName"] for n in range(1200)
    ]


async def test_every_report_is_journaled_as_tried_before_its_post(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    outbox = ReportOutbox(store)
    vtn = FakeVtn(outbox)  # asserts the tried line is on disk at each POST
    for n in range(40):
        outbox.add(report(n))
    vtn.refuse = {report(3)["reportName"]}
    assert await outbox.flush(vtn) == 39  # type: ignore[arg-type]
    assert not outbox.pending
    await outbox.durable()
    restarted = ReportOutbox(store)
    assert not restarted.pending
    assert not restarted.add(report(5))  # delivered: remembered across the restart
    assert restarted.add(report(3))  # refused and dropped, not delivered: may be queued again


async def test_a_report_tried_before_a_crash_is_checked_not_sent_twice(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    outbox = ReportOutbox(store)
    vtn = FakeVtn(outbox)
    for n in range(3):
        outbox.add(report(n))
    vtn.down = True
    assert await outbox.flush(vtn) == 0  # type: ignore[arg-type]
    await outbox.durable()
    vtn.down = False
    vtn.reports.append(report(0)["reportName"])  # the first POST got there; its answer did not
    restarted = ReportOutbox(store)
    assert await restarted.flush(vtn) == 3  # type: ignore[arg-type]
    assert sorted(vtn.reports) == sorted(report(n)["reportName"] for n in range(3))


async def test_a_torn_last_line_is_left_out_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    outbox = ReportOutbox(store)
    for n in range(5):
        outbox.add(report(n))
    await outbox.durable()
    data = outbox.path.read_bytes()
    outbox.path.write_bytes(data[:-9])  # power lost in the middle of the last append
    restarted = ReportOutbox(store)
    assert [b["reportName"] for b in restarted.pending] == [
        report(n)["reportName"] for n in range(4)
    ]
    assert "last line is torn" in caplog.text
    assert "the 4 lines before it kept" in caplog.text
    restarted.add(report(9))
    await restarted.durable()
    assert journal(restarted)[-1] == {"add": report(9)}  # the journal was made whole first
    assert len(ReportOutbox(store).pending) == 5


async def test_unreadable_lines_are_skipped_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    lines = [
        json.dumps({"add": report(0)}),
        "{not json",
        json.dumps({"add": {"no": "name"}}),
        json.dumps({"explode": "x"}),
        json.dumps([1, 2]),
        json.dumps({"tried": 5}),
        json.dumps({"add": report(1)}),
        json.dumps({"done": report(0)["reportName"]}),
    ]
    store.directory.mkdir(parents=True, exist_ok=True)
    store.path("report_outbox", ".journal").write_text("\n".join(lines) + "\n")
    outbox = ReportOutbox(store)
    assert [b["reportName"] for b in outbox.pending] == [report(1)["reportName"]]
    assert outbox.delivered == (report(0)["reportName"],)
    assert "5 unreadable lines skipped" in caplog.text
    assert "line 2: not JSON" in caplog.text
    assert "line 4: unknown entry 'explode'" in caplog.text


async def test_the_journal_is_compacted_and_stays_bounded(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    outbox = ReportOutbox(store, max_pending=50)
    vtn = FakeVtn()
    for n in range(3000):
        outbox.add(report(n))
        if n % 3 == 0:
            await outbox.flush(vtn)  # type: ignore[arg-type]
    await outbox.durable()
    live = len(outbox.pending) + len(outbox.delivered)
    assert len(outbox.pending) <= 50
    assert len(outbox.delivered) == DELIVERED_MEMORY
    assert len(journal(outbox)) <= 2 * (live + len(outbox.pending)) + COMPACT_SLACK
    assert stat.S_IMODE(outbox.path.stat().st_mode) == 0o600
    restarted = ReportOutbox(store, max_pending=50)
    assert restarted.pending == outbox.pending
    assert restarted.delivered == outbox.delivered


async def test_a_full_outbox_drops_the_oldest_also_after_a_restart(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    outbox = ReportOutbox(store, max_pending=3)
    for n in range(5):
        outbox.add(report(n))
    await outbox.durable()
    expected = [report(n)["reportName"] for n in (2, 3, 4)]
    assert [b["reportName"] for b in outbox.pending] == expected
    assert [b["reportName"] for b in ReportOutbox(store, max_pending=3).pending] == expected


async def test_the_whole_document_outbox_of_earlier_versions_is_taken_over(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path)
    store.save(
        "report_outbox",
        {
            "pending": [{"body": report(1), "attempted": True}, {"body": report(2)}, "junk"],
            "delivered": [report(0)["reportName"]],
        },
    )
    outbox = ReportOutbox(store)
    assert [b["reportName"] for b in outbox.pending] == [report(n)["reportName"] for n in (1, 2)]
    assert not outbox.add(report(0))
    await outbox.durable()
    assert not store.path("report_outbox").exists()
    vtn = FakeVtn()
    vtn.reports.append(report(1)["reportName"])  # sent before the upgrade: checked, not resent
    assert await ReportOutbox(store).flush(vtn) == 2  # type: ignore[arg-type]
    assert vtn.reports == [report(1)["reportName"], report(2)["reportName"]]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 30)),
        st.tuples(st.just("deliver"), st.integers(0, 3)),
        st.tuples(st.just("fail"), st.integers(0, 3)),
        st.tuples(st.just("restart"), st.integers(0, 40)),
    ),
    max_size=40,
)


@settings(max_examples=60)
@given(operations, st.sampled_from([0, 3, COMPACT_SLACK]))
def test_a_restart_at_any_point_restores_what_was_journaled(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int]], slack: int
) -> None:
    async def run() -> None:
        store = StateStore(tmp_path_factory.mktemp("outbox"))
        outbox = ReportOutbox(store, max_pending=12)
        vtn = FakeVtn(outbox)
        for op, arg in ops:
            if op == "add":
                outbox.add(report(arg))
            elif op in ("deliver", "fail"):
                vtn.down = op == "fail"
                pending = outbox.pending[:arg]
                vtn.refuse = {b["reportName"] for b in pending if len(b["reportName"]) % 2}
                await outbox.flush(vtn)  # type: ignore[arg-type]
            else:
                await outbox.durable()
                torn = arg % 4 == 0 and outbox.path.exists()
                if torn:  # a torn tail is at most the last line (which was not durable yet)
                    outbox.path.write_bytes(outbox.path.read_bytes() + b'{"add":{"rep')
                restarted = ReportOutbox(store, max_pending=12)
                assert restarted.pending == outbox.pending
                assert restarted.delivered == outbox.delivered
                outbox = restarted
                vtn.outbox = outbox

    with patch.object(outbox_module, "COMPACT_SLACK", slack):  # rewrites early and often
        asyncio.run(run())

"""Price import (Olivine eTOU-Dyn JSON, CSV) and the vtn-lite command line."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import REPO_ROOT, run_module
from tests.vtn_lite.conftest import open_vtn
from vtn_lite.auth import Principal, verify_secret
from vtn_lite.prices import PriceImportError, event_from_csv, import_prices
from vtn_lite.service import SearchParams, Vtn
from vtn_lite.storage_sqlite import SqliteStore

SAMPLES = REPO_ROOT / "sample_data"
BL = Principal("importer", "bl")


async def test_sample_files_load_unchanged() -> None:
    async with open_vtn() as vtn:
        await _check_sample_files_load_unchanged(vtn)


async def _check_sample_files_load_unchanged(vtn: Vtn) -> None:
    result = await import_prices(
        vtn, BL, [SAMPLES / "program_pricing.json", SAMPLES / "event_pricing.json"], "etou"
    )
    program = await vtn.get(BL, "PROGRAM", result.program_id)
    assert program["programName"] == "etou"
    assert {"type": "RETAILER_LONG_NAME", "values": ["Pacific Utility Company"]} in program[
        "attributes"
    ]
    (event_id,) = result.event_ids
    event = await vtn.get(BL, "EVENT", event_id)
    assert event["programID"] == result.program_id
    assert len(event["intervals"]) == 13
    assert event["intervals"][0]["payloads"] == [{"type": "PRICE", "values": [0.12097]}]
    assert event["intervalPeriod"] == {"start": "2026-02-17T19:00:00Z", "duration": "PT1H"}
    # Importing the event again into the existing program adds a second event.
    again = await import_prices(vtn, BL, [SAMPLES / "event_pricing.json"], "etou")
    assert again.program_id == result.program_id
    assert not again.program_created
    assert len(await vtn.search(BL, "EVENT", SearchParams())) == 2


async def test_csv_prices(tmp_path: Path) -> None:
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text(
        "start,price\n2026-03-01T01:00:00Z,0.2\n2026-03-01T00:00:00Z,0.1\n2026-03-01 02:00:00,0.3\n"
    )
    async with open_vtn() as vtn:
        result = await import_prices(vtn, BL, [csv_file], "csv-prices", currency="EUR")
        program = await vtn.get(BL, "PROGRAM", result.program_id)
        event = await vtn.get(BL, "EVENT", result.event_ids[0])
    assert program["payloadDescriptors"][0]["currency"] == "EUR"
    assert [i["payloads"][0]["values"][0] for i in event["intervals"]] == [0.1, 0.2, 0.3]
    assert event["intervalPeriod"]["start"] == "2026-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start,price\n", r"no \(start, price\) rows"),
        ("2026-03-01T00:00:00Z,0.1\n2026-03-01T02:00:00Z,0.2\n", "consecutive hours"),
        ("2026-03-01T00:00:00Z,cheap\n", "not a number"),
        ("2026-03-01T00:00:00Z,nan\n", "not a number"),
        ("2026-03-01T00:00:00Z,0.1\ntomorrow,0.1\n", "row 2"),
    ],
)
def test_csv_errors(text: str, message: str) -> None:
    with pytest.raises(PriceImportError, match=message):
        event_from_csv(text, "p", currency="USD", units="KWH")


def test_cli_help() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["clients", "add", "--help"],
        ["prices", "import", "--help"],
    ):
        result = run_module("vtn_lite", *args)
        assert result.returncode == 0, result.stderr
        assert "usage: vtn-lite" in result.stdout


def add_client(config: Path, client_id: str, role: str) -> subprocess.CompletedProcess[str]:
    return run_module(
        "vtn_lite", "clients", "add", "--config", str(config), "--client-id", client_id,
        "--role", role,
    )  # fmt: skip


async def test_cli_clients_add_and_prices_import(tmp_path: Path) -> None:
    config = tmp_path / "vtn.toml"
    config.write_text('[server]\ndatabase = "vtn.sqlite"\nport = 0\n')
    added = add_client(config, "utility", "bl")
    assert added.returncode == 0, added.stderr
    secret = added.stdout.split("client_secret=")[1].strip()
    assert os.stat(config).st_mode & 0o077 == 0
    clients = tomllib.loads(config.read_text())["clients"]
    assert clients[0]["client_id"] == "utility"
    assert secret not in config.read_text()
    assert verify_secret(secret, clients[0]["secret_hash"])
    duplicate = add_client(config, "utility", "ven")
    assert duplicate.returncode == 1
    imported = run_module(
        "vtn_lite",
        "prices",
        "import",
        str(SAMPLES / "event_pricing.json"),
        "--program",
        "etou",
        "--config",
        str(config),
    )
    assert imported.returncode == 0, imported.stderr
    assert "program 'etou' created" in imported.stdout
    store = SqliteStore(tmp_path / "vtn.sqlite")
    assert len(await store.all_of_kind("EVENT")) == 1
    await store.close()
    bad = run_module(
        "vtn_lite",
        "prices",
        "import",
        str(config),
        "--program",
        "x",
        "--database",
        str(tmp_path / "vtn.sqlite"),
    )
    assert bad.returncode == 1
    assert "neither CSV nor JSON" in bad.stderr


def test_cli_demo_serves_until_signalled(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vtn_lite",
            "serve",
            "--demo",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = []
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            if "3.1.0 at" in line:
                break
        banner = "".join(lines)
        assert "DEMO MODE" in banner
        assert "bl_client / 1001" in banner
        base = line.rsplit(" ", 1)[1].strip()
        assert base.startswith("http://127.0.0.1:")
        token = httpx.post(
            base + "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "ven_client",
                "client_secret": "999",
            },
        ).json()["access_token"]
        reply = httpx.get(base + "/events", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200
        assert reply.json() == []
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    assert (tmp_path / "vtn-lite-demo.sqlite").exists()


_cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z", "0.1", "-3", "1e9", "inf"]),
)


@given(st.lists(st.lists(_cells, min_size=0, max_size=3), max_size=6))
def test_csv_import_fuzz(rows: list[list[str]]) -> None:
    text = "\n".join(",".join(cell.replace("\n", " ") for cell in row) for row in rows)
    try:
        event = event_from_csv(text, "p", currency="USD", units="KWH")
    except PriceImportError:
        return
    prices = [i["payloads"][0]["values"][0] for i in event["intervals"]]
    assert all(math.isfinite(price) for price in prices)
    assert [i["id"] for i in event["intervals"]] == list(range(len(prices)))

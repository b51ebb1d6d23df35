"""``vtn-lite prices import --url``: through a running server, so subscribers are notified."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.vtn_lite.conftest import Api, Receiver
from tests.vtn_lite.schema import validate_component
from vtn_lite.prices import PriceImportError
from vtn_lite.prices_remote import api_base
from vtn_lite.server import RunningVtn

SAMPLES = REPO_ROOT / "sample_data"


async def _cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """The real command in a child process, while this loop keeps serving the VTN."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vtn_lite",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _subscription(url: str) -> dict:
    return {
        "clientName": "price-listener",
        "objectOperations": [
            {
                "objects": ["PROGRAM", "EVENT"],
                "operations": ["CREATE", "UPDATE"],
                "callbackUrl": url,
                "bearerToken": "listener-secret",
            }
        ],
    }


async def test_online_import_notifies_subscribers(
    api: Api, receiver: Receiver, server: RunningVtn
) -> None:
    await api.ok("POST", "/subscriptions", "ven", _subscription(receiver.url))
    files = [str(SAMPLES / "program_pricing.json"), str(SAMPLES / "event_pricing.json")]
    code, out, err = await _cli(
        "prices", "import", *files, "--program", "etou",
        "--url", server.url, "--client-id", "bl_client", "--secret-stdin",
        stdin="1001\n",
    )  # fmt: skip
    assert code == 0, err
    assert "program 'etou' created" in out
    event_id = out.split("event created: ")[1].strip()
    await receiver.wait_for(2, server)
    notes = [body for _, body in receiver.received]
    for note in notes:
        validate_component("3.1.0", "notification", note)
    assert [(n["objectType"], n["operation"]) for n in notes] == [
        ("PROGRAM", "CREATE"),
        ("EVENT", "CREATE"),
    ]
    event = notes[1]["object"]
    assert event["id"] == event_id
    assert event["programID"] == notes[0]["object"]["id"]
    assert len(event["intervals"]) == 13
    assert {auth for auth, _ in receiver.received} == {"Bearer listener-secret"}
    # A second run with the program file updates the existing program (and notifies).
    code, out, err = await _cli(
        "prices", "import", files[0], "--program", "etou",
        "--url", server.base_url, "--client-id", "bl_client", "--secret-stdin",
        stdin="1001\n",
    )  # fmt: skip
    assert code == 0, err
    assert "program 'etou' updated" in out
    await receiver.wait_for(3, server)
    assert receiver.received[2][1]["operation"] == "UPDATE"


async def test_online_import_errors_are_clear(server: RunningVtn, tmp_path: Path) -> None:
    event = str(SAMPLES / "event_pricing.json")
    common = ("prices", "import", event, "--program", "p", "--url", server.url)
    code, _, err = await _cli(*common, "--client-id", "bl_client", "--secret-stdin", stdin="no\n")
    assert code == 1
    assert "login" in err
    assert "401" in err
    assert "no\n" not in err
    # A VEN may not write programs: the server's problem detail is shown.
    code, _, err = await _cli(*common, "--client-id", "ven_client", "--secret-stdin", stdin="999\n")
    assert code == 1
    assert "403" in err
    assert "write_programs" in err
    code, _, err = await _cli(*common, "--client-id", "bl_client")
    assert code == 1
    assert "--secret-stdin" in err
    code, _, err = await _cli(
        "prices", "import", event, "--program", "p", "--database", str(tmp_path / "x.sqlite"),
        "--client-id", "bl_client",
    )  # fmt: skip
    assert code == 2
    assert "go with --url" in err
    assert not (tmp_path / "x.sqlite").exists()
    # Nothing was written by the refused runs.
    assert await server.vtn.store.all_of_kind("PROGRAM") == []


def test_api_base() -> None:
    assert api_base("http://127.0.0.1:8080") == "http://127.0.0.1:8080/openadr3/3.1.0"
    assert api_base("https://vtn.example/openadr3/3.1.0/") == "https://vtn.example/openadr3/3.1.0"
    for bad in ("ftp://x", "127.0.0.1:8080", "http://"):
        with pytest.raises(PriceImportError, match="--url"):
            api_base(bad)


async def test_help_states_which_mode_notifies() -> None:
    code, out, _ = await _cli("prices", "import", "--help")
    assert code == 0
    assert "subscribers are notified" in out
    assert "NO webhook notifications" in out

"""The configuration file's client list while serving: ``clients add`` / ``remove`` edit it in one
rename, and the reloader applies a changed list, keeping the last good one when the file cannot
be used (hostile or broken files included)."""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import run_module
from vtn_lite.client_file import add_client, remove_client, write_atomically
from vtn_lite.client_reload import ClientReloader
from vtn_lite.config import ClientEntry, ConfigError, client_toml

HASH = "scrypt$16$8$1$c2FsdA$aGFzaA"
HEAD = (
    "# vtn-lite test configuration\n[server]\nport = 0  # any free port\n\n"
    "[console]\nenabled = false\n"
)
PLAIN = '[[clients]]\nclient_id = "p"\nsecret_hash = "pw"\nrole = "ven"\n'


def entry(client_id: str, role: str = "ven") -> ClientEntry:
    return ClientEntry(client_id, HASH, role)  # type: ignore[arg-type]


def clients_of(text: str) -> list[str]:
    return [c["client_id"] for c in tomllib.loads(text).get("clients", [])]


class Applied:
    def __init__(self) -> None:
        self.lists: list[tuple[ClientEntry, ...]] = []
        self.fail = False

    async def __call__(self, clients: tuple[ClientEntry, ...]) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.lists.append(clients)


def test_remove_keeps_the_rest_of_the_file_as_written() -> None:
    text = HEAD + client_toml(entry("a", "bl")) + client_toml(entry("b")) + client_toml(entry("c"))
    without_b = remove_client(text, "b")
    assert clients_of(without_b) == ["a", "c"]
    assert without_b.startswith(HEAD)  # comments and other tables untouched
    assert clients_of(remove_client(remove_client(without_b, "c"), "a")) == []


def test_remove_refuses_a_missing_client_and_an_inline_list() -> None:
    with pytest.raises(ConfigError, match="no client 'zz'"):
        remove_client(HEAD + client_toml(entry("a")), "zz")
    inline = HEAD.replace("[console]", 'clients = [{client_id = "x"}]\n[console]')
    with pytest.raises(ConfigError):
        remove_client(inline, "x")


def test_add_refuses_a_file_it_cannot_extend_cleanly() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        add_client("[server\nport = 0\n", entry("a"))
    # Appending after an unterminated table array of another kind would change it.
    with pytest.raises(ConfigError):
        add_client("clients = []\n", entry("a"))


ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@settings(max_examples=40)
@given(st.lists(ids, min_size=1, max_size=8, unique=True), st.data())
def test_any_ids_added_then_one_removed_leave_the_others(
    client_ids: list[str], data: st.DataObject
) -> None:
    # Quotes, backslashes, "[[clients]]" or newlines-like text in ids never cut the wrong lines.
    text = HEAD
    for client_id in client_ids:
        text = add_client(text, entry(client_id))
    assert clients_of(text) == client_ids
    gone = data.draw(st.sampled_from(client_ids))
    assert clients_of(remove_client(text, gone)) == [c for c in client_ids if c != gone]


def test_write_atomically_leaves_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "vtn.toml"
    path.write_text("old")
    stale = tmp_path / f".vtn.toml.{os.getpid()}.tmp"
    stale.write_text("left by a crash")
    stale.chmod(0o644)
    write_atomically(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not stale.exists()


def test_cli_remove(tmp_path: Path) -> None:
    path = tmp_path / "vtn.toml"
    path.write_text(HEAD + client_toml(entry("a", "bl")) + client_toml(entry("b")))
    missing = run_module("vtn_lite", "clients", "remove", "--config", str(path), "--client-id", "z")
    assert missing.returncode == 1
    assert "no client 'z'" in missing.stderr
    removed = run_module("vtn_lite", "clients", "remove", "--config", str(path), "--client-id", "a")
    assert removed.returncode == 0, removed.stderr
    assert clients_of(path.read_text()) == ["b"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_reloader_applies_changes_and_keeps_the_last_good_list(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "vtn_lite.client_reload")
    path = tmp_path / "vtn.toml"
    first = HEAD + client_toml(entry("a", "bl"))
    write_atomically(path, first)
    applied = Applied()
    reloader = ClientReloader(path, (entry("a", "bl"),), applied, mqtt=True)
    assert not await reloader.check()  # unchanged

    write_atomically(path, add_client(first, entry("b")))
    assert await reloader.check()
    assert [c.client_id for c in applied.lists[-1]] == ["a", "b"]
    assert "1 added (b)" in caplog.text

    # A broken file: said precisely, the last good list kept, nothing applied.
    write_atomically(path, first + "[[clients]\n")
    assert not await reloader.check()
    assert f"clients not re-read from {path}" in caplog.text
    assert "keeping the 2 clients served" in caplog.text
    # An entry with a plain secret instead of a hash is refused the same way.
    write_atomically(path, first + PLAIN)
    assert not await reloader.check()
    assert "never a plain secret" in caplog.text
    # With [mqtt] served, an id that cannot be an MQTT username and topic level is refused.
    write_atomically(path, add_client(first, entry("x/+/#")))
    assert not await reloader.check()
    assert "'x/+/#' cannot be an MQTT username" in caplog.text
    # The file gone.
    path.unlink()
    assert not await reloader.check()
    assert "cannot be read" in caplog.text
    assert len(applied.lists) == 1
    assert [c.client_id for c in reloader.clients] == ["a", "b"]

    # Back: b removed. A failed apply (a full disk) is retried without a new change.
    write_atomically(path, first)
    applied.fail = True
    with pytest.raises(OSError, match="No space"):
        await reloader.check()
    applied.fail = False
    assert await reloader.check()
    assert [c.client_id for c in applied.lists[-1]] == ["a"]
    assert "1 removed (b)" in caplog.text

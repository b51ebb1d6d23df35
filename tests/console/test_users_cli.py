"""``vtn-lite users add|remove|list`` and the users file the server reads."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vtn_lite.cli import main
from vtn_lite.config import load_config
from vtn_lite.console.users import UserDirectory, UsersError, parse_users, read_users


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def add(monkeypatch: pytest.MonkeyPatch, config: Path, name: str, role: str, password: str) -> int:
    argv = ("users", "add", name, "--role", role, "--password-stdin", "--config", str(config))
    return run(monkeypatch, *argv, stdin=f"{password}\n")


def test_add_list_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "vtn.toml"
    config.write_text('[console]\nenabled = true\nusers_file = "ops.json"\n')
    assert add(monkeypatch, config, "alice", "dispatcher", "correct horse") == 0
    assert add(monkeypatch, config, "bob", "viewer", "battery staple") == 0
    path = tmp_path / "ops.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "correct horse" not in path.read_text()
    capsys.readouterr()
    assert run(monkeypatch, "users", "list", "--config", str(config)) == 0
    assert capsys.readouterr().out.splitlines() == ["alice\tdispatcher", "bob\tviewer"]
    directory = UserDirectory(path)
    assert directory.check("alice", "correct horse") is not None
    assert directory.check("alice", "wrong horse") is None
    assert run(monkeypatch, "users", "remove", "alice", "--config", str(config)) == 0
    assert [u.name for u in read_users(path)] == ["bob"]
    assert directory.get("alice") is None  # the server sees the change without a restart
    assert run(monkeypatch, "users", "remove", "alice", "--config", str(config)) == 1
    loaded = load_config(config)
    assert loaded.console is not None
    assert loaded.console.users_file == str(path)


def test_short_passwords_and_odd_names_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "vtn.toml"
    config.write_text("")
    assert add(monkeypatch, config, "alice", "viewer", "short") == 1
    assert add(monkeypatch, config, "<b>x</b>", "viewer", "long enough") == 1
    assert not (tmp_path / "console-users.json").exists()


def test_the_console_is_off_unless_configured(tmp_path: Path) -> None:
    config = tmp_path / "vtn.toml"
    config.write_text('[console]\nusers_file = "x.json"\n')
    assert load_config(config).console is None
    config.write_text("[console]\nenabled = true\nwindow = -1\n")
    with pytest.raises(ValueError, match="window"):
        load_config(config)


@given(st.text(max_size=200) | st.builds(json.dumps, st.dictionaries(st.just("users"), st.lists(
    st.dictionaries(st.sampled_from(["name", "password_hash", "role"]), st.text(max_size=10)),
    max_size=3))))  # fmt: skip
def test_a_damaged_users_file_is_a_clear_error(text: str) -> None:
    try:
        users = parse_users(text, "users.json")
    except UsersError as exc:
        message = str(exc)
        users = ()
    else:
        message = "users.json"
    assert message.startswith("users.json")  # the error names the file
    assert all(user.password_hash.startswith("scrypt$") for user in users)

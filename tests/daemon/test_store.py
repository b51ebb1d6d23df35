import json
import stat
from pathlib import Path

import pytest

from ven_edge.store import StateStore


def test_round_trip_and_mode(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    store.save("plan", {"commands": [1, 2, 3]})
    assert store.load("plan") == {"commands": [1, 2, 3]}
    mode = stat.S_IMODE(store.path("plan").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_overwrite_leaves_no_temp_files(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    for i in range(5):
        store.save("signals", {"n": i})
    assert store.load("signals") == {"n": 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signals.json"]


def test_missing_gives_default(tmp_path: Path) -> None:
    assert StateStore(tmp_path).load("nothing", default={"empty": True}) == {"empty": True}


def test_corrupt_file_is_kept_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = StateStore(tmp_path)
    store.path("plan").write_text('{"truncated": ')
    assert store.load("plan", default=None) is None
    assert "corrupt" in caplog.text
    assert (tmp_path / "plan.json.corrupt").read_text() == '{"truncated": '
    store.save("plan", {"ok": 1})
    assert json.loads(store.path("plan").read_text()) == {"ok": 1}


def test_failed_write_keeps_previous_content(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save("plan", {"v": 1})
    with pytest.raises(TypeError):
        store.save("plan", {"v": object()})
    assert store.load("plan") == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


@pytest.mark.parametrize("name", ["", "../etc", ".hidden", "a/b"])
def test_rejects_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid state document name"):
        StateStore(tmp_path).path(name)

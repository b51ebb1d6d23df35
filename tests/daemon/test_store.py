import json
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.store import SCHEMA_VERSION, StateStore, _encode


def on_disk(store: StateStore, name: str) -> object:
    """The document in ``name``'s file, as a reader of the file sees it."""
    stored = json.loads(store.path(name).read_text())
    assert stored == {"data": stored.get("data"), "version": SCHEMA_VERSION}
    return stored["data"]


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
    assert on_disk(store, "plan") == {"ok": 1}


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


# -- writes off the event loop ----------------------------------------------------------------


def recording_writes(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(thread name, file name) of every atomic write the store makes from now on."""
    writes: list[tuple[str, str]] = []
    original = store.write_atomic

    def record(target: Path, data: bytes) -> None:
        writes.append((threading.current_thread().name, target.name))
        original(target, data)

    monkeypatch.setattr(store, "write_atomic", record)
    return writes


async def test_save_soon_writes_on_the_writer_thread_not_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path / "state")
    writes = recording_writes(store, monkeypatch)
    store.save_soon("plan", {"v": 1})
    assert store.load("plan") == {"v": 1}  # a save not yet written is read back
    await store.flush()
    assert [name for _, name in writes] == ["plan.json"]
    assert writes[0][0] != threading.current_thread().name
    assert on_disk(store, "plan") == {"v": 1}
    assert stat.S_IMODE(store.path("plan").stat().st_mode) == 0o600


async def test_a_later_save_always_lands_last_and_superseded_ones_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path)
    writes = recording_writes(store, monkeypatch)
    release = threading.Event()
    store.submit(lambda: release.wait(30))  # the writer is busy (a slow SD card)
    for n in range(50):
        store.save_soon("signals", {"n": n})
    store.save_soon("plan", {"p": 1})
    assert store.load("signals") == {"n": 49}
    release.set()
    await store.flush()
    assert [name for _, name in writes] == ["signals.json", "plan.json"]
    assert store.load("signals") == {"n": 49}
    store.save("signals", {"n": 50})  # a direct save after them wins too
    assert on_disk(store, "signals") == {"n": 50}


async def test_writes_run_in_the_order_asked_for(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    seen: list[object] = []
    store.save_soon("a", {"v": 1})
    store.submit(lambda: seen.append(on_disk(store, "a")))
    await store.flush()
    assert seen == [{"v": 1}]


async def test_a_failed_write_is_logged_and_the_previous_content_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.save("plan", {"v": 1})

    def full_disk(target: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_atomic", full_disk)
    store.save_soon("plan", {"v": 2})
    await store.flush()
    assert "cannot save plan state" in caplog.text
    assert "No space left" in caplog.text
    assert store.load("plan") == {"v": 1}


async def test_a_document_given_as_a_callable_is_made_on_the_writer_thread(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path)
    made_on: list[str] = []

    def document() -> dict[str, int]:
        made_on.append(threading.current_thread().name)
        return {"intervals": 8640}

    store.save_soon("signals", document)
    await store.flush()
    assert made_on
    assert made_on[0] != threading.current_thread().name
    assert store.load("signals") == {"intervals": 8640}


async def test_a_failing_write_does_not_stop_the_writes_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.save_soon("signals", lambda: {"bad": object()})  # cannot be encoded
    store.submit(lambda: 1 / 0)  # type: ignore[func-returns-value]
    store.save_soon("plan", {"v": 1})
    await store.flush()
    assert "cannot save signals state" in caplog.text
    assert "state write failed" in caplog.text
    assert on_disk(store, "plan") == {"v": 1}
    assert not store.path("signals").exists()


documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@given(documents)
def test_documents_are_encoded_as_one_json_call_would(document: object) -> None:
    expected = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    assert _encode(document) == expected


def test_documents_with_number_keys_are_encoded_as_json_does() -> None:
    document = {"anchors": {1: "a", 2: {"x": [1]}}, "list": [{3: 4}]}
    assert _encode(document) == b'{"anchors":{"1":"a","2":{"x":[1]}},"list":[{"3":4}]}'


# -- versions ---------------------------------------------------------------------------------


def test_a_file_from_before_versions_is_read_and_written_back_versioned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.path("plan").write_text('{"commands":[1,2]}')  # as releases before the envelope wrote
    caplog.set_level("INFO", logger="ven_edge.store")
    assert store.load("plan") == {"commands": [1, 2]}
    assert (
        f"state file {store.path('plan')}: migrated from version 0 to {SCHEMA_VERSION}"
        in caplog.text
    )
    store.save("plan", store.load("plan"))
    assert on_disk(store, "plan") == {"commands": [1, 2]}


def test_a_file_from_a_newer_release_is_refused_and_kept_for_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    newer = '{"data":{"shape":"unknown"},"version":7}'
    store.path("plan").write_text(newer)
    assert store.load("plan", default={"empty": True}) == {"empty": True}
    aside = tmp_path / "plan.json.v7"
    assert (
        f"state file {store.path('plan')}: version 7 is newer than this release reads "
        f"({SCHEMA_VERSION}); "
        f"moved to {aside}, starting without it"
    ) in caplog.text
    store.save("plan", {"v": 1})  # the daemon goes on, and the newer file stays as it was
    assert aside.read_text() == newer
    assert on_disk(store, "plan") == {"v": 1}


def test_a_version_1_set_point_gains_empty_heater_limits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.path("set_point").write_text('{"data":{"raised_c":55.0,"user_c":48.89},"version":1}')
    store.path("plan").write_text('{"data":{"heater":1},"version":1}')
    caplog.set_level("INFO", logger="ven_edge.store")
    assert store.load("set_point") == {"user_c": 48.89, "raised_c": 55.0, "heater": None}
    assert store.load("plan") == {"heater": 1}  # other documents are as they were
    assert "migrated from version 1 to 2" in caplog.text


@pytest.mark.parametrize("version", ["1", 0, -3, 1.0, True, None])
def test_an_envelope_with_a_bad_version_is_corrupt(tmp_path: Path, version: object) -> None:
    store = StateStore(tmp_path)
    store.path("plan").write_text(json.dumps({"data": {}, "version": version}))
    assert store.load("plan") is None
    assert (tmp_path / "plan.json.corrupt").exists()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.one_of(
        _JSON,
        # Documents shaped like an envelope themselves come back as they went in.
        st.fixed_dictionaries({"data": _JSON, "version": st.integers()}),
    )
)
def test_any_document_comes_back_from_a_new_store(document: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        StateStore(tmp).save("doc", document)
        assert StateStore(tmp).load("doc") == document

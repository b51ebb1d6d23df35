"""The storage interface on both backends: uniqueness between writers, migrations, config."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hil.postgres import PrivatePostgres
from tests.conftest import REPO_ROOT, free_port, run_module, wait_for
from vtn_lite.auth import hash_secret
from vtn_lite.config import ClientEntry, ConfigError, client_toml, load_config
from vtn_lite.storage import Change, IndexFields, NameTaken, Query, open_storage
from vtn_lite.storage_postgres import MIGRATIONS as PG_MIGRATIONS
from vtn_lite.storage_postgres import PostgresStore, redact
from vtn_lite.storage_sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from vtn_lite.storage_sqlite import SqliteStore


def _durable(backend: str, storage_url: str, tmp_path: Path) -> str:
    # Two stores must see one database: a file for SQLite (":memory:" is per connection).
    return str(tmp_path / "vtn.sqlite") if backend == "sqlite" else storage_url


async def test_two_writers_cannot_both_take_a_name(
    backend: str, storage_url: str, tmp_path: Path
) -> None:
    """Two workers (or a server and an offline import) passing the service's name check at the
    same moment: the second write is refused by the database, not stored twice."""
    url = _durable(backend, storage_url, tmp_path)
    first, second = open_storage(url), open_storage(url)
    await first.open()
    await second.open()
    try:
        body = {"programName": "same"}
        await first.insert("PROGRAM", "p1", IndexFields(name="same"), body)
        with pytest.raises(NameTaken, match="program with this name"):
            await second.insert("PROGRAM", "p2", IndexFields(name="same"), body)
        await first.insert("VEN", "v1", IndexFields(name="v", client_id="c"), {"venName": "v"})
        with pytest.raises(NameTaken, match="already has a ven"):
            await second.insert("VEN", "v2", IndexFields(name="w", client_id="c"), {})
        await first.insert("RESOURCE", "r1", IndexFields(name="r", ven_id="v1"), {})
        with pytest.raises(NameTaken, match="resource with this name"):
            await second.insert("RESOURCE", "r2", IndexFields(name="r", ven_id="v1"), {})
        # A resource of that name on another ven is fine.
        await second.insert("RESOURCE", "r3", IndexFields(name="r", ven_id="v2"), {})
        assert len(await first.all_of_kind("RESOURCE")) == 2
    finally:
        await first.close()
        await second.close()


async def test_bulk_load_is_searchable_like_single_inserts(storage_url: str) -> None:
    store = open_storage(storage_url)
    await store.open()
    try:
        rows = [
            (f"v{n}", IndexFields(name=f"ven-{n}", client_id=f"c{n}", targets=(f"g{n % 3}",)),
             {"id": f"v{n}", "venName": f"ven-{n}"})
            for n in range(30)
        ]  # fmt: skip
        await store.insert_many("VEN", rows)
        single = await store.insert("VEN", "v30", IndexFields(name="ven-30", client_id="c30"), {})
        assert single.seq > max(
            obj.seq for obj in await store.all_of_kind("VEN") if obj.id != "v30"
        )
        in_g1 = await store.search(Query(kind="VEN", any_targets=("g1",), limit=50))
        assert [obj.id for obj in in_g1] == [f"v{n}" for n in range(30) if n % 3 == 1]
        page = await store.search(Query(kind="VEN", skip=10, limit=5))
        assert [obj.id for obj in page] == [f"v{n}" for n in range(10, 15)]
        assert (await store.search(Query(kind="VEN", client_id="c7")))[0].body["venName"] == "ven-7"
        with pytest.raises(NameTaken):
            await store.insert_many("VEN", [("dup", IndexFields(name="ven-3", client_id="x"), {})])
        assert len(await store.all_of_kind("VEN")) == 31
    finally:
        await store.close()


async def test_text_with_nul_round_trips(backend: str, storage_url: str) -> None:
    """PostgreSQL text cannot hold NUL; names, ids and targets with one are still exact."""
    store = open_storage(storage_url)
    await store.open()
    try:
        odd = "a\x00b\\0c\\"
        stored = await store.insert(
            "PROGRAM", odd, IndexFields(name=odd, targets=(odd, "t")), {"programName": odd}
        )
        assert stored.id == odd
        assert stored.targets == tuple(sorted((odd, "t")))
        assert await store.name_taken("PROGRAM", odd)
        assert not await store.name_taken("PROGRAM", "a\\0b\\0c\\")
        assert await store.get("PROGRAM", "a\x00") is None
        found = await store.get("PROGRAM", odd)
        assert found is not None
        assert found.body["programName"] == odd
    finally:
        await store.close()


async def test_postgres_migrations_are_versioned(postgres: PrivatePostgres) -> None:
    url = postgres.new_database("m")
    store = open_storage(url)
    await store.open()
    assert await store.schema_version() == len(PG_MIGRATIONS)
    await store.close()
    again = open_storage(url)  # a second start migrates nothing
    await again.open()
    await again.close()
    database = url.rsplit("/", 1)[1]
    postgres.psql("UPDATE vtn_lite_schema SET version = 99", database)
    newer = open_storage(url)
    with pytest.raises(RuntimeError, match="newer"):
        await newer.open()
    await newer.close()


async def test_checkins_and_event_ends_on_both_backends(storage_url: str) -> None:
    store = open_storage(storage_url)
    await store.open()
    try:
        assert await store.load_checkins() == {}
        # A client named twice in one batch: the last check-in counts.
        await store.save_checkins([("ven-a", 10.0), ("ven-\x00b", 11.0), ("ven-a", 12.0)])
        await store.save_checkins([("ven-c", 13.0)])
        assert await store.load_checkins() == {"ven-a": 12.0, "ven-\x00b": 11.0, "ven-c": 13.0}
        seqs = []
        for n, ends in enumerate((100.0, 50.0, None, 200.0)):
            index = IndexFields(program_id="p", ends_at=ends)
            seqs.append((await store.insert("EVENT", f"e{n}", index, {})).seq)
        assert await store.next_end(seqs, 0.0) == 50.0
        assert await store.next_end(seqs, 50.0) == 100.0
        assert await store.next_end(seqs[2:3], 0.0) is None
        assert await store.next_end(seqs, 200.0) is None
        assert await store.next_end([], 0.0) is None
    finally:
        await store.close()


async def test_data_version_follows_another_writers_commits(
    backend: str, storage_url: str, tmp_path: Path
) -> None:
    """What the view cache compares before serving a view (vtn_lite.viewcache): another worker's
    write, or an offline bulk import, changes it as soon as it is committed."""
    url = _durable(backend, storage_url, tmp_path)
    reader, writer = open_storage(url), open_storage(url)
    await reader.open()
    await writer.open()
    try:
        before = await reader.data_version()
        assert await reader.data_version() == before  # reads alone change nothing
        stored = await writer.insert("PROGRAM", "p1", IndexFields(name="p"), {"programName": "p"})
        after_insert = await reader.data_version()
        assert after_insert != before
        await writer.insert_many("VEN", [("v1", IndexFields(name="v", client_id="c"), {})])
        after_import = await reader.data_version()
        assert after_import != after_insert
        await writer.delete(stored)
        assert await reader.data_version() != after_import
    finally:
        await reader.close()
        await writer.close()


async def test_concurrent_polls_share_data_version_reads(postgres: PrivatePostgres) -> None:
    store = open_storage(postgres.new_database("stamp"))
    await store.open()
    try:
        assert isinstance(store, PostgresStore)
        versions = await asyncio.gather(*(store.data_version() for _ in range(50)))
        assert len(set(versions)) == 1
        # The first poll's read, and one more shared by every poll that asked meanwhile.
        assert store.stamp_reads <= 2
        await store.insert("PROGRAM", "p1", IndexFields(name="p"), {"programName": "p"})
        assert await store.data_version() != versions[0]
    finally:
        await store.close()


def test_sqlite_databases_of_every_earlier_version_upgrade_alike(tmp_path: Path) -> None:
    """Version 3 is the console's check-ins table, 4 the unique indexes; both are idempotent, so
    a database that has either one (at version 3) ends with the same schema as a new one."""

    def schema(path: Path) -> set[tuple[str, str]]:
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite%'")
            return {(str(kind), str(name)) for kind, name in rows}

    def opened(path: Path) -> None:
        SqliteStore(path)._db.close()

    new = tmp_path / "new.sqlite"
    opened(new)
    expected = schema(new)
    assert ("table", "ven_checkins") in expected
    assert ("index", "objects_ven_client") in expected
    for name, undo in (
        ("checkins-first", "DROP INDEX objects_ven_client; DROP INDEX objects_ven_name;"
         " DROP INDEX objects_program_name; DROP INDEX objects_resource_name;"),
        ("indexes-first", "DROP TABLE ven_checkins;"),
    ):  # fmt: skip
        path = tmp_path / f"{name}.sqlite"
        opened(path)
        with sqlite3.connect(path) as db:
            db.executescript(f"{undo} PRAGMA user_version = 3;")
        opened(path)
        assert schema(path) == expected, name
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE_MIGRATIONS)


def test_storage_config(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "vtn.toml"
    path.write_text('[storage]\nurl = "data/vtn.sqlite"\n')
    assert load_config(path).database == str(tmp_path / "data" / "vtn.sqlite")
    path.write_text('[storage]\nurl = "sqlite:vtn.sqlite"\n')
    assert load_config(path).database == str(tmp_path / "vtn.sqlite")
    pg = "postgresql://vtn:secret@db.example/vtn"
    path.write_text(f'[server]\nworkers = 4\n[storage]\nurl = "{pg}"\n')
    config = load_config(path)
    assert (config.database, config.workers) == (pg, 4)
    cases = {
        '[server]\ndatabase = "a.sqlite"\n[storage]\nurl = "b.sqlite"\n': "named twice",
        "[server]\nworkers = 2\n": "needs PostgreSQL",
        '[server]\nworkers = 2\ndatabase = "a.sqlite"\n': "SQLite serves one worker",
        "[server]\nworkers = 0\n": "at least 1",
        '[storage]\npath = "x"\n': "unknown key 'path'",
        # The console's sessions live in one process.
        f'[server]\nworkers = 2\n[storage]\nurl = "{pg}"\n[console]\nenabled = true\n': (
            "cannot serve \\[console\\]"
        ),
        "[storage]\nurl = 1\n": "postgresql://",
        'storage = "x"\n': r"\[storage\] must be a table",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(path)
    assert backend in ("sqlite", "postgresql")


def test_redacted_url() -> None:
    assert redact("postgresql://vtn:s3cret@db:5432/vtn") == "postgresql://vtn:***@db:5432/vtn"
    assert redact("postgresql://vtn@db/vtn") == "postgresql://vtn@db/vtn"
    assert "p@ss" not in redact("postgresql://vtn:p@ss@db/vtn")


def test_unreachable_postgres_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "vtn.toml"
    client = ClientEntry("utility", hash_secret("s", n=2**4), "bl")
    url = f"postgresql://vtn:hunter2@127.0.0.1:{free_port()}/vtn"
    config.write_text(f'[server]\nport = 0\n[storage]\nurl = "{url}"\n' + client_toml(client))
    result = run_module("vtn_lite", "serve", "--config", str(config))
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL at postgresql://vtn:***@127.0.0.1" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_postgres_without_asyncpg_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "asyncpg" else real(name, *a)
    )
    path = tmp_path / "vtn.toml"
    path.write_text('[storage]\nurl = "postgresql://vtn@/vtn"\n')
    with pytest.raises(ConfigError, match="python3-asyncpg"):
        load_config(path)


async def test_changes_are_followed_again_after_the_listen_connection_drops(
    postgres: PrivatePostgres,
) -> None:
    url = postgres.new_database("l")
    follower, writer = open_storage(url), open_storage(url)
    await follower.open()
    await writer.open()
    heard: list[Change] = []

    async def hear(change: Change) -> None:
        heard.append(change)

    try:
        await follower.listen(hear)
        await writer.insert("PROGRAM", "p0", IndexFields(name="p0"), {"programName": "p0"})
        await wait_for(lambda: len(heard) == 1, 60, "the first change")
        database = url.rsplit("/", 1)[1]
        postgres.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND query LIKE 'LISTEN%'"
        )
        # Changes made once the follower listens again reach it (earlier ones are missed).
        for n in range(1, 400):
            await writer.insert("PROGRAM", f"p{n}", IndexFields(name=f"p{n}"), {})
            if len(heard) > 1:
                break
            await asyncio.sleep(0.1)
        assert len(heard) > 1
        assert heard[-1].kind == "PROGRAM"
        assert heard[-1].operation == "CREATE"
    finally:
        await follower.close()
        await writer.close()


async def test_delivery_states_keep_their_order_when_batched(storage_url: str) -> None:
    """Successes are written together later; a failure, a read or a give-up sees them first."""
    store = open_storage(storage_url)
    await store.open()
    try:
        for _ in range(3):
            await store.record_delivery("s", ok=True, error=None)
        await store.record_delivery("s", ok=False, error="callback answered 503")
        state = await store.delivery_state("s")
        assert state is not None
        assert (state.state, state.delivered, state.consecutive_failures) == ("FAILING", 3, 1)
        await store.record_delivery("s", ok=True, error=None)
        state = await store.delivery_state("s")
        assert state is not None
        assert (state.state, state.delivered, state.consecutive_failures) == ("OK", 4, 0)
        await store.record_delivery("s", ok=True, error=None)
        await store.mark_delivery_failed("s", "gave up")
        state = await store.delivery_state("s")
        assert state is not None
        assert (state.state, state.delivered, state.last_error) == ("FAILED", 5, "gave up")
        await store.record_delivery("t", ok=True, error=None)
    finally:
        await store.close()
    again = open_storage(storage_url)
    if storage_url != ":memory:":  # what was counted before close was written
        await again.open()
        state = await again.delivery_state("t")
        assert state is not None
        assert state.delivered == 1
    await again.close()


def test_every_module_imports_without_asyncpg() -> None:
    """The .deb only recommends python3-asyncpg: SQLite installs must import everything."""
    script = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "import asyncio, pkgutil, importlib, vtn_lite\n"
        "for m in pkgutil.walk_packages(vtn_lite.__path__, 'vtn_lite.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "from vtn_lite.storage import StorageError, open_storage\n"
        "try:\n"
        "    asyncio.run(open_storage('postgresql://vtn@127.0.0.1:1/vtn').open())\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "needs asyncpg: apt install python3-asyncpg" in result.stdout

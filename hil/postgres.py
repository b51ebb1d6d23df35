"""A private PostgreSQL server for tests and benchmarks: Debian's binaries, a temporary cluster.

``initdb`` and ``postgres`` from ``/usr/lib/postgresql/<version>/bin`` (Debian's ``postgresql``
package) run in a temporary directory on a free loopback port, with durability switched off
(``fsync=off``): the data is thrown away. PostgreSQL refuses to run as root, so under root the
server runs as the ``postgres`` account the package creates.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
USER = "vtn"
_START_TIMEOUT_S = 60.0


class PostgresMissing(RuntimeError):
    """Debian's postgresql package is not installed (scripts/system-deps.sh test installs it)."""


def pg_bin_dir() -> Path:
    versions = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise PostgresMissing(
            f"no PostgreSQL server binaries under {PG_ROOT}; install Debian's postgresql package"
            " (bash scripts/system-deps.sh test)"
        )
    return versions[-1]


class PrivatePostgres:
    """One running throw-away cluster; :meth:`new_database` hands out empty databases."""

    def __init__(self, directory: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.directory = directory
        self.port = port
        self.process = process
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh empty database; returns its URL."""
        name = f"{prefix}{next(self._names)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database :meth:`new_database` made (its connections too): a session that
        makes hundreds keeps its cluster small, and quick to delete."""
        name = url.rsplit("/", 1)[1]
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(pg_bin_dir() / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
             "-d", self.url(database), "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {result.stderr.strip()}")
        return result.stdout

    @classmethod
    @contextmanager
    def started(cls, *, max_connections: int = 200) -> Iterator[PrivatePostgres]:
        bin_dir = pg_bin_dir()
        directory = Path(tempfile.mkdtemp(prefix="vtn-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        data = directory / "data"
        log_path = directory / "postgres.log"
        subprocess.run(
            [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        port = _free_port()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [*run_as, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                 "-k", str(directory), "-c", "listen_addresses=127.0.0.1",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", f"max_connections={max_connections}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        server = cls(directory, port, process)
        try:
            server._wait_ready(bin_dir, log_path)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
            shutil.rmtree(directory, ignore_errors=True)

    def _wait_ready(self, bin_dir: Path, log_path: Path) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {log_path.read_text(errors='replace')}")
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
                timeout=30,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not start within {_START_TIMEOUT_S} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

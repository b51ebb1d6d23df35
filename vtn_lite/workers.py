"""Several vtn_lite worker processes on one port (``[server] workers = N``, PostgreSQL only).

Each worker is a whole vtn_lite (its own event loop, connection pool and webhook notifier) with
its own listening socket bound with ``SO_REUSEPORT``, so the kernel spreads incoming connections
over the workers. What must be common lives in PostgreSQL: objects, subscriptions, delivery state
and tokens; each worker LISTENs for the others' writes, to drop what it cached (granted targets)
and to notify its share of the subscribers.
docs/vtn-lite.md "Several workers" describes what stays per worker.

The parent process only starts, watches and stops the workers: when one exits unexpectedly the
others are stopped too and the parent fails, so a service manager restarts the whole set.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

from vtn_lite.config import VtnConfig, check_workers
from vtn_lite.server import ServedApis, running_vtn, stop_on_signals

log = logging.getLogger(__name__)

_READY_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 30.0
# spawn, not fork: a forked child would inherit the parent's event loop and threads.
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True, slots=True)
class RunningWorkers(ServedApis):
    url: str
    processes: tuple[BaseProcess, ...]


@contextmanager
def reserved_port(host: str, port: int) -> Iterator[int]:
    """Resolve port 0 once for every worker: a bound, never listening, SO_REUSEPORT socket.

    A socket that does not listen receives no connections, so holding it while the workers
    bind only keeps another program from taking the port meanwhile.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        yield int(sock.getsockname()[1])


@asynccontextmanager
async def running_workers(config: VtnConfig) -> AsyncIterator[RunningWorkers]:
    """Start ``config.workers`` processes sharing one port; stop them on exit."""
    check_workers(config.workers, config.database, console=config.console is not None)
    with reserved_port(config.host, config.port) as port:
        worker_config = replace(config, port=port)
        ready: Queue[Any] = _CONTEXT.Queue()
        processes = tuple(
            _CONTEXT.Process(
                target=worker_main, args=(worker_config, index, ready), name=f"vtn-lite-{index}"
            )
            for index in range(config.workers)
        )
        for process in processes:
            process.start()
        try:
            await asyncio.to_thread(_await_ready, ready, processes)
            host = f"[{config.host}]" if ":" in config.host else config.host
            scheme = "https" if config.tls_cert else "http"
            yield RunningWorkers(f"{scheme}://{host}:{port}", processes)
        finally:
            await asyncio.to_thread(stop_workers, processes)


def _await_ready(ready: Queue[Any], processes: tuple[BaseProcess, ...]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    waiting = len(processes)
    while waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"vtn-lite workers not ready within {_READY_TIMEOUT_S} s")
        dead = [p.name for p in processes if p.exitcode is not None]
        if dead:
            raise RuntimeError(f"vtn-lite worker {', '.join(dead)} exited while starting")
        try:
            message = ready.get(timeout=0.2)
        except queue.Empty:
            continue
        if isinstance(message, str):
            raise RuntimeError(message)
        waiting -= 1


def stop_workers(processes: tuple[BaseProcess, ...]) -> None:
    for process in processes:
        if process.exitcode is None and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join(_STOP_TIMEOUT_S)
        if process.exitcode is None:
            log.warning(
                "worker %s did not stop within %s s; killing it", process.name, _STOP_TIMEOUT_S
            )
            process.kill()
            process.join(_STOP_TIMEOUT_S)


def worker_main(config: VtnConfig, index: int, ready: Queue[Any]) -> None:
    """One worker process: serve until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s worker {index} %(name)s: %(message)s",
    )
    try:
        asyncio.run(_serve_worker(config, index, ready))
    except Exception as exc:  # reported to the parent, which stops the others
        log.exception("worker %d failed", index)
        ready.put(f"vtn-lite worker {index} failed: {exc}")
        sys.exit(1)


async def _serve_worker(config: VtnConfig, index: int, ready: Queue[Any]) -> None:
    # A worker stops on SIGTERM from the parent (or SIGINT from a terminal).
    stop = stop_on_signals()
    async with running_vtn(config, reuse_port=True, worker=index):
        ready.put(index)
        await stop.wait()

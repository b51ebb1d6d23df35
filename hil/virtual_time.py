"""An asyncio event loop on virtual time: when nothing is ready, time jumps to the next timer.

Simulations that only talk in-process (the half-duplex bus of :mod:`hil.bus`, the simulated heater,
the UCM session) then run as fast as the CPU allows, and every timer fires at exactly its virtual
instant whatever the machine load: an hour of 19,200-baud traffic takes seconds, and a test that
checks "at least 100 ms of quiet" checks virtual milliseconds, not the scheduler's mood.

Use it with ``asyncio.Runner(loop_factory=VirtualTimeLoop)`` (or :func:`run`). Real I/O still works
(sockets and pipes are polled without waiting), but virtual time does not wait for it: a loop that
waits on a pty or a thread would see its timeouts fire at once. Keep real I/O out of virtual runs.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
#: What a selector accepts: a file object with ``fileno()`` or a descriptor.
_FileObject = Any


class _SkippingSelector(selectors.BaseSelector):
    """Polls the real selector without blocking; a wait becomes a jump of the loop's clock."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._inner = selectors.DefaultSelector()
        self._loop = loop

    def register(
        self, fileobj: _FileObject, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: _FileObject) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: _FileObject, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # No timer at all: only real I/O (or another thread) can wake the loop; wait for it.
            return self._inner.select(None)
        self._loop.advance(timeout)
        return []

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[_FileObject, selectors.SelectorKey]:
        return self._inner.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose :meth:`time` starts at 0 and only moves when the loop idles."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_SkippingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (the loop does this itself whenever it would wait)."""
        if seconds > 0:
            self._virtual_now += seconds


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)

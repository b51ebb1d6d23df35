"""Growing delays after failed console logins, per account and per source address (sans-I/O).

The first ``free`` failures cost nothing; each further one doubles the wait before the next
attempt is even checked: 1 s, 2 s, 4 s ... capped at ``account_cap`` per account (so someone
who knows a dispatcher's name can hold the dispatcher off for at most that long) and at the
larger ``address_cap`` per address (the guesser's own address pays most). Failures are forgotten
``forget_after`` seconds after the last one; a success clears the account's count. Each table
keeps at most ``max_keys`` entries, forgetting the least recently used one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        *,
        free: int = 3,
        base: float = 1.0,
        account_cap: float = 30.0,
        address_cap: float = 300.0,
        forget_after: float = 900.0,
        max_keys: int = 10_000,
    ) -> None:
        self.free = free
        self.base = base
        self.account_cap = account_cap
        self.address_cap = address_cap
        self.forget_after = forget_after
        self._max_keys = max_keys
        self._accounts: OrderedDict[str, _Failures] = OrderedDict()
        self._addresses: OrderedDict[str, _Failures] = OrderedDict()

    def delay_after(self, failures: int, cap: float) -> float:
        if failures <= self.free:
            return 0.0
        return float(min(cap, self.base * 2 ** (failures - self.free - 1)))

    def wait(self, account: str, address: str, now: float) -> float:
        """Seconds before an attempt for ``account`` from ``address`` is checked (0: now)."""
        return max(
            self._wait(self._accounts, account, self.account_cap, now),
            self._wait(self._addresses, address, self.address_cap, now),
        )

    def failed(self, account: str, address: str, now: float) -> None:
        self._count(self._accounts, account, now)
        self._count(self._addresses, address, now)

    def succeeded(self, account: str) -> None:
        self._accounts.pop(account, None)

    def _wait(self, table: OrderedDict[str, _Failures], key: str, cap: float, now: float) -> float:
        entry = table.get(key)
        if entry is None:
            return 0.0
        if now - entry.last >= self.forget_after:
            del table[key]
            return 0.0
        return max(0.0, entry.last + self.delay_after(entry.count, cap) - now)

    def _count(self, table: OrderedDict[str, _Failures], key: str, now: float) -> None:
        entry = table.get(key)
        if entry is None or now - entry.last >= self.forget_after:
            entry = _Failures(0, now)
        entry.count += 1
        entry.last = now
        table[key] = entry
        table.move_to_end(key)
        while len(table) > self._max_keys:
            table.popitem(last=False)

"""Growing, bounded delays after failed console logins."""

from __future__ import annotations

from vtn_lite.console.throttle import LoginThrottle


def test_delays_double_per_failure_up_to_the_account_cap() -> None:
    throttle = LoginThrottle(free=3, base=1.0, account_cap=30.0, address_cap=300.0)
    waits = []
    for n in range(12):
        throttle.failed("alice", f"10.0.0.{n}", 100.0)  # a different address each time
        waits.append(throttle.wait("alice", "10.0.0.99", 100.0))
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30, 30]


def test_one_address_guessing_many_accounts_waits_longer() -> None:
    throttle = LoginThrottle(free=3, base=1.0, account_cap=30.0, address_cap=300.0)
    for n in range(12):
        throttle.failed(f"user{n}", "203.0.113.9", 100.0)
    assert throttle.wait("somebody", "203.0.113.9", 100.0) == 256.0
    assert throttle.wait("somebody", "198.51.100.1", 100.0) == 0.0  # others are not held


def test_success_clears_the_account_and_old_failures_are_forgotten() -> None:
    throttle = LoginThrottle(free=1, forget_after=900.0)
    for _ in range(3):
        throttle.failed("alice", "a", 0.0)
    assert throttle.wait("alice", "b", 0.0) > 0
    throttle.succeeded("alice")
    assert throttle.wait("alice", "b", 0.0) == 0
    throttle.failed("bob", "c", 0.0)
    throttle.failed("bob", "c", 0.0)
    assert throttle.wait("bob", "d", 900.0) == 0  # forgotten after 15 minutes


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=100)
    for n in range(1000):
        throttle.failed(f"user{n}", f"addr{n}", 0.0)
    assert len(throttle._accounts) == 100
    assert len(throttle._addresses) == 100

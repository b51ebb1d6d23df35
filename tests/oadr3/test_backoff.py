"""Exponential backoff with full jitter, with an injected random source."""

from __future__ import annotations

import pytest

from ven_edge.oadr3.backoff import Backoff


def test_ceiling_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=10.0, rand=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_full_jitter_spans_zero_to_ceiling() -> None:
    draws = iter([0.0, 0.5, 0.25])
    backoff = Backoff(base=2.0, cap=100.0, rand=lambda: next(draws))
    assert [backoff.next_delay() for _ in range(3)] == [0.0, 2.0, 2.0]


def test_many_failures_do_not_overflow() -> None:
    backoff = Backoff(base=0.5, cap=300.0, rand=lambda: 1.0)
    backoff.attempts = 10_000
    assert backoff.next_delay() == 300.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 5.0)])
def test_invalid_parameters(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base=base, cap=cap)

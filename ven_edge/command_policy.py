"""When a command frame goes to the heater: leases, renewals, retries and refusals (sans-I/O).

The control core knows *what* the heater should do; this policy decides *when* a frame for it is
worth sending, so that the command stream stays calm whatever the plan, the line or the heater do.
It sees only plain values (the command's identity, the end of its planned run, the outcome of the
last frame, the heater's operational state, ``now``) and answers with :class:`Send` or None.

Rules:

* **One command, one identity.** A command is its kind, event and energy. Plan entries that differ
  only in their interval or wording (a SIMPLE event with one-minute intervals, a price peak over
  several steps) are one command: the caller passes the end of the whole run.
* **Lease.** Curtailment and load-up carry a duration, so a gateway that dies leaves the heater to
  return to normal by itself (docs/cta2045.md §8.2, §16.4). A run that fits in
  ``max_command_s`` is sent once, its duration rounded *up* to the next encodable value
  (Intwine's "never shorter", docs/cta2045.md §8.2), and End Shed closes it at the planned end
  (§8.1: End Shed when an event ends, even with a duration given). A longer run gets the
  longest encodable lease not above ``max_command_s``, renewed once per heater timer,
  ``renew_margin_s`` before that timer ends.
* **No needless renewal.** A lease that reaches the planned end is never renewed. Renewals fall
  ``renew_margin_s`` before the timer ends; a full lease is longer than ``min_resend_s`` plus that
  margin (the settings are checked), and a shorter one only exists when the planned end was
  nearer. So the same command is never sent twice within ``min_resend_s`` unless its timer would
  otherwise run out before the planned end (the plan was extended meanwhile).
* **Instructions at once.** A different command (new kind, new event, an event cancelled) and End
  Shed go out at the next step.
* **Transport failure is not a refusal.** A link NAK, a timeout or a lost port is retried with
  exponential backoff (``retry_initial_s`` doubling to ``retry_max_s``); the retry is not a
  renewal. A reopened port (more commissionings) sends the command in force again at once: the
  heater may have lost it while unreachable.
* **Refusal.** Only an application NAK with its reason blocks the command, and only until the
  heater's operational state changes, the port is reopened, or the plan asks for something else.
  A customer override (App NAK 0x05, docs/cta2045.md §8.4) holds until the override ends (some
  heaters keep reporting normal states under override, §14); while the customer is opted out
  nothing but End Shed is sent.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

# The CTA-2045 event-duration rule (2·n² s, docs/cta2045.md §8.2) and both its roundings live
# with the encoding: a lease is cut to a duration the wire can say (rounded down) and a run that
# fits in one lease is covered (rounded up).
from ven_edge.cta2045.encodings import covering_duration_s, within_duration_s


class Outcome(enum.Enum):
    """What came of a sent command, as far as the control core cares."""

    ACCEPTED = "accepted"  # link ACK and application ACK
    OVERRIDDEN = "overridden"  # application NAK 0x05: customer override in effect
    REJECTED = "rejected"  # application NAK with another reason: busy, not supported, invalid
    FAILED = "failed"  # transport: link NAK, no answer, port lost; retried with backoff


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one frame with the heater's reason (App NAK reason or response code, or
    the link NAK code of a transport failure) and a line for the log."""

    outcome: Outcome
    reason: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Wanted:
    """The command the plan asks for now: its identity, whether it is End Shed (normal
    operation), and the end of its planned run (None: open-ended)."""

    key: Hashable
    normal: bool
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Send:
    """Send the wanted command now, with this lease (None for End Shed)."""

    duration_s: int | None


@dataclass(frozen=True, slots=True)
class PolicySettings:
    max_command_s: float = 4 * 3600.0  # longest lease for one frame
    renew_margin_s: float = 120.0  # renew this long before the heater's timer runs out
    min_resend_s: float = 600.0  # the same command is not sent again sooner (see module doc)
    retry_initial_s: float = 2.0  # first retry after a transport failure
    retry_max_s: float = 60.0  # the retry delay doubles up to this

    def __post_init__(self) -> None:
        if not 0 < self.renew_margin_s < self.max_command_s:
            raise ValueError("renew_margin_s must be positive and below max_command_s")
        if self.min_resend_s < 0:
            raise ValueError("min_resend_s must not be negative")
        if within_duration_s(self.max_command_s) < self.min_resend_s + self.renew_margin_s:
            # A full lease renewed renew_margin_s before its end must come no sooner than
            # min_resend_s after it was sent: that is what keeps the same frame that far apart.
            raise ValueError("max_command_s must exceed min_resend_s plus renew_margin_s")
        if not 0 < self.retry_initial_s <= self.retry_max_s:
            raise ValueError("retry_initial_s must be positive and at most retry_max_s")

    def retry_delay_s(self, failures: int) -> float:
        """Backoff after ``failures`` consecutive transport failures (1: the first)."""
        doublings = min(max(failures - 1, 0), 32)  # bounded: 2**32 × any delay exceeds the cap
        return min(self.retry_max_s, self.retry_initial_s * 2.0**doublings)

    def lease_s(self, now: datetime, end: datetime | None) -> int:
        """The duration to send at ``now`` for a run ending at ``end``."""
        if end is not None:
            remaining = (end - now).total_seconds()
            if remaining <= self.max_command_s:
                return covering_duration_s(remaining)
        return within_duration_s(self.max_command_s)


@dataclass(frozen=True, slots=True)
class _Frame:
    key: Hashable
    normal: bool
    at: datetime
    outcome: Outcome
    expires: datetime | None = None  # when the heater's own timer ends (accepted leases)


@dataclass(frozen=True, slots=True)
class _Refusal:
    key: Hashable
    op_state: int | None  # the heater's state when it refused
    override: bool  # refused for a customer override: holds until the override ends


class CommandPolicy:
    """The send/renew/retry decisions for one heater (see the module docstring)."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()
        self._last: _Frame | None = None
        self._failures = 0
        self._retry_at: datetime | None = None
        self._refusal: _Refusal | None = None
        self._op_state: int | None = None
        self._opted_out = False
        self._commissionings = 0

    @property
    def blocked(self) -> Hashable | None:
        """The identity of the command the heater refused, while that refusal holds."""
        return None if self._refusal is None else self._refusal.key

    # -- inputs ------------------------------------------------------------------------------

    def observe(
        self, now: datetime, *, op_state: int | None, opted_out: bool, commissionings: int
    ) -> None:
        """What the heater reports now (call before :meth:`decide`)."""
        if commissionings > self._commissionings:
            if self._commissionings > 0:
                self._reconnected(now)
            self._commissionings = commissionings
        refusal = self._refusal
        if refusal is not None and not refusal.override and op_state != refusal.op_state:
            self._lift()  # the heater's state changed: what it refused may be possible now
        if self._opted_out and not opted_out:
            self._lift()  # the customer ended the override
        self._op_state = op_state
        self._opted_out = opted_out

    def record(
        self, now: datetime, key: Hashable, normal: bool, duration_s: int | None, result: Delivery
    ) -> None:
        """The outcome of the frame for ``key`` sent at ``now`` with ``duration_s``."""
        outcome = result.outcome
        expires = None
        if outcome is Outcome.FAILED:
            self._failures += 1
            self._retry_at = now + timedelta(seconds=self.settings.retry_delay_s(self._failures))
        else:
            self._failures = 0
            self._retry_at = None
            if outcome is Outcome.ACCEPTED and duration_s is not None:
                expires = now + timedelta(seconds=duration_s)
            elif outcome is not Outcome.ACCEPTED:
                self._refusal = _Refusal(key, self._op_state, outcome is Outcome.OVERRIDDEN)
        self._last = _Frame(key, normal, now, outcome, expires)

    # -- decisions ---------------------------------------------------------------------------

    def decide(self, now: datetime, wanted: Wanted) -> Send | None:
        """Whether to send ``wanted`` now, and with which lease."""
        if self._opted_out and not wanted.normal:
            return None
        if self._refusal is not None:
            if self._refusal.key == wanted.key:
                return None
            self._refusal = None  # the plan moved on
        last = self._last
        if last is None:
            # At start-up the UCM sends End Shed while commissioning (docs/cta2045.md §7), so the
            # heater runs normally: nothing to send unless the plan wants more.
            return None if wanted.normal else self._send(now, wanted)
        if wanted.key != last.key:
            return self._send(now, wanted)
        if last.outcome is Outcome.FAILED:
            due = self._retry_at
            return self._send(now, wanted) if due is None or now >= due else None
        if last.outcome is not Outcome.ACCEPTED:
            return self._send(now, wanted)  # refused before, and that refusal was lifted
        renew_at = self._renew_at(last, wanted)
        return self._send(now, wanted) if renew_at is not None and now >= renew_at else None

    def next_deadline(self, wanted: Wanted) -> datetime | None:
        """When :meth:`decide` may answer differently for ``wanted`` without new input."""
        last = self._last
        if last is None or self._refusal is not None:
            return None
        if last.outcome is Outcome.FAILED:
            return self._retry_at
        if last.key == wanted.key:
            return self._renew_at(last, wanted)
        return None

    def _renew_at(self, last: _Frame, wanted: Wanted) -> datetime | None:
        if last.outcome is not Outcome.ACCEPTED or last.normal or last.expires is None:
            return None
        if wanted.end is not None and last.expires >= wanted.end:
            return None  # the heater's timer already reaches the planned end
        return last.expires - timedelta(seconds=self.settings.renew_margin_s)

    def _send(self, now: datetime, wanted: Wanted) -> Send:
        return Send(None if wanted.normal else self.settings.lease_s(now, wanted.end))

    def _lift(self) -> None:
        self._refusal = None

    def _reconnected(self, now: datetime) -> None:
        """The port was lost and reopened: the heater may have power-cycled or let its timer
        run out meanwhile, so the command in force goes again at once (a transport retry, not
        a renewal), and a refusal from before no longer holds. An End Shed that was delivered
        needs nothing: a heater restarts normal."""
        self._lift()
        last = self._last
        if last is None or last.outcome in (Outcome.REJECTED, Outcome.OVERRIDDEN):
            return  # nothing in force, or a refused command that :meth:`decide` sends again
        if last.normal and last.outcome is Outcome.ACCEPTED:
            self._last = None
            return
        self._last = _Frame(last.key, last.normal, last.at, Outcome.FAILED)
        self._failures = 0
        self._retry_at = now

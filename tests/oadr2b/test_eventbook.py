"""The VEN's event rules (2.0b profile): randomisation, modifications, cancellation (explicit
and implied), status, targets, unsupported signals, overrides, and the timeline they make."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from tests.oadr2b.samples import START, dispatch_event, distribute, simple_event
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.eventbook import EventBook
from ven_edge.oadr2b.events import (
    BadEvent,
    DistributeEvent,
    EventSignal,
    EventStatus,
    Interval,
    Opt,
    ResponseRequired,
    Targets,
)
from ven_edge.oadr3.timeline import FAR_FUTURE

VEN = "VEN_WH_1"
BEFORE = START - timedelta(hours=1)


def _book(seed: int = 7) -> EventBook:
    return EventBook(random.Random(seed))


def test_simple_event_becomes_a_simple_interval_and_is_opted_in() -> None:
    book = _book()
    result = book.apply(distribute(simple_event(2.0)), VEN, BEFORE)
    assert result.changed
    (reply,) = result.replies
    assert (reply.event_id, reply.modification_number, reply.opt, reply.request_id) == (
        "ev-1",
        0,
        Opt.OPT_IN,
        "req-1",
    )
    (interval,) = book.timeline().intervals
    assert (interval.kind, interval.values, interval.start, interval.end) == (
        "SIMPLE",
        (2.0,),
        START,
        START + timedelta(hours=1),
    )


def test_the_same_revision_again_is_not_answered_twice() -> None:
    book = _book()
    book.apply(distribute(simple_event()), VEN, BEFORE)
    again = book.apply(distribute(simple_event(status=EventStatus.ACTIVE)), VEN, START)
    assert again.replies == []
    assert not again.changed


def test_startafter_offset_is_in_range_and_kept_across_modifications() -> None:
    """Rule 30: one offset in [0, startafter], kept unless startafter changes."""
    book = _book()
    after = timedelta(minutes=10)
    book.apply(distribute(simple_event(startafter=after)), VEN, BEFORE)
    first = book.timeline().intervals[0].start
    assert START <= first <= START + after
    assert first != START  # a draw, not the edge
    book.apply(distribute(simple_event(3.0, modification=1, startafter=after)), VEN, BEFORE)
    assert book.timeline().intervals[0].start == first
    book.apply(distribute(simple_event(3.0, modification=2, startafter=after * 2)), VEN, BEFORE)
    assert book.timeline().intervals[0].start != first


def test_offset_survives_a_restart() -> None:
    after = timedelta(minutes=10)
    book = _book(1)
    book.apply(distribute(simple_event(startafter=after)), VEN, BEFORE)
    state = book.export_state()
    restarted = _book(2)
    restarted.restore_state(state)
    restarted.apply(distribute(simple_event(startafter=after)), VEN, BEFORE)
    assert restarted.timeline().intervals[0].start == book.timeline().intervals[0].start


def test_lower_modification_is_refused_with_450_and_the_known_one_kept() -> None:
    book = _book()
    book.apply(distribute(simple_event(2.0, modification=3)), VEN, BEFORE)
    result = book.apply(distribute(simple_event(1.0, modification=1)), VEN, BEFORE)
    (reply,) = result.replies
    assert (reply.opt, reply.code) == (Opt.OPT_OUT, ResponseCode.OUT_OF_SEQUENCE)
    assert book.timeline().intervals[0].values == (2.0,)


def test_higher_modification_replaces_the_event() -> None:
    book = _book()
    book.apply(distribute(simple_event(2.0)), VEN, BEFORE)
    result = book.apply(distribute(simple_event(1.0, modification=1)), VEN, BEFORE)
    assert [r.modification_number for r in result.replies] == [1]
    assert book.timeline().intervals[0].values == (1.0,)


def test_cancel_is_confirmed_and_its_end_randomised_within_startafter() -> None:
    """Rules 36, 59, 65."""
    book = _book()
    after = timedelta(minutes=10)
    book.apply(distribute(simple_event(startafter=after, duration=timedelta(hours=2))), VEN, BEFORE)
    now = START + timedelta(minutes=30)
    cancelled = simple_event(
        modification=1, status=EventStatus.CANCELLED, startafter=after, duration=timedelta(hours=2)
    )
    result = book.apply(distribute(cancelled), VEN, now)
    assert [(r.opt, r.modification_number) for r in result.replies] == [(Opt.OPT_IN, 1)]
    (interval,) = book.timeline().intervals
    assert now <= interval.end <= now + after
    assert interval.end < START + timedelta(hours=2)


def test_cancel_of_an_unknown_event_is_confirmed() -> None:
    """Rule 60."""
    result = _book().apply(distribute(simple_event(status=EventStatus.CANCELLED)), VEN, BEFORE)
    assert [r.opt for r in result.replies] == [Opt.OPT_IN]


def test_event_missing_from_a_new_distribute_is_implicitly_cancelled() -> None:
    """Rule 61: and its end randomised like an explicit cancel (65)."""
    book = _book()
    after = timedelta(minutes=10)
    two = simple_event(event_id="ev-2", start=BEFORE, duration=timedelta(hours=3))
    three = simple_event(
        event_id="ev-3", startafter=after, start=BEFORE, duration=timedelta(hours=3)
    )
    book.apply(distribute(simple_event(), two, three), VEN, BEFORE)
    now = START + timedelta(minutes=5)
    result = book.apply(distribute(simple_event()), VEN, now)
    assert result.changed
    assert result.replies == []
    ends = {i.event_id: i.end for i in book.timeline().intervals}
    assert "ev-2" not in ends  # no startafter: ended at once, and forgotten
    assert now <= ends["ev-3"] <= now + after
    assert ends["ev-1"] == START + timedelta(hours=1)


def test_completed_status_does_not_end_a_randomised_event_early() -> None:
    """Rules 66, 114: the clock and the offset decide, not the received status."""
    book = _book()
    after = timedelta(minutes=10)
    book.apply(distribute(simple_event(startafter=after)), VEN, BEFORE)
    before = book.timeline()
    done = simple_event(status=EventStatus.COMPLETED, startafter=after)
    book.apply(distribute(done), VEN, START + timedelta(hours=1, minutes=1))
    assert book.timeline() == before


def test_zero_duration_is_open_ended() -> None:
    """Rule 47."""
    book = _book()
    book.apply(distribute(simple_event(duration=timedelta(0))), VEN, BEFORE)
    assert book.timeline().intervals[0].end == FAR_FUTURE


def test_unsupported_signal_is_refused_with_460_and_the_last_good_state_kept() -> None:
    book = _book()
    book.apply(distribute(simple_event(2.0)), VEN, BEFORE)
    odd = replace(
        simple_event(modification=1),
        signals=(EventSignal("BID_LOAD", "setpoint", "s", (Interval(0, timedelta(hours=1), 1),)),),
    )
    result = book.apply(distribute(odd), VEN, BEFORE)
    (reply,) = result.replies
    assert (reply.opt, reply.code) == (Opt.OPT_OUT, ResponseCode.SIGNAL_NOT_SUPPORTED)
    assert "BID_LOAD/setpoint" in reply.description
    assert book.timeline().intervals[0].values == (2.0,)


def test_simple_level_outside_0_to_3_is_unsupported() -> None:
    result = _book().apply(distribute(simple_event(7.0)), VEN, BEFORE)
    assert result.replies[0].code == ResponseCode.SIGNAL_NOT_SUPPORTED


def test_event_for_another_ven_is_refused_with_462() -> None:
    book = _book()
    result = book.apply(distribute(simple_event(ven_id="SOMEONE_ELSE")), VEN, BEFORE)
    assert result.replies[0].code == ResponseCode.TARGET_MISMATCH
    assert len(book.timeline()) == 0


def test_group_target_includes_the_ven() -> None:
    event = replace(simple_event(), targets=Targets(group_ids=("north",)))
    book = _book()
    book.apply(distribute(event), VEN, BEFORE)
    assert len(book.timeline()) == 1


def test_response_required_never_gets_no_reply() -> None:
    """Rule 62."""
    event = replace(simple_event(), response_required=ResponseRequired.NEVER)
    result = _book().apply(distribute(event), VEN, BEFORE)
    assert result.replies == []


def test_test_event_is_answered_but_not_acted_on() -> None:
    book = _book()
    result = book.apply(distribute(replace(simple_event(), test_event=True)), VEN, BEFORE)
    assert [r.opt for r in result.replies] == [Opt.OPT_IN]
    assert len(book.timeline()) == 0


def test_bad_event_is_answered_with_its_code_and_is_no_implied_cancel() -> None:
    book = _book()
    book.apply(distribute(simple_event()), VEN, BEFORE)
    message = DistributeEvent(
        "req-2",
        "UTILITY_VTN",
        (),
        (BadEvent("ev-1", 1, ResponseCode.INVALID_DATA, "payload 'NaN' not finite"),),
    )
    result = book.apply(message, VEN, BEFORE)
    (reply,) = result.replies
    assert (reply.opt, reply.code, reply.request_id) == (Opt.OPT_OUT, 454, "req-2")
    assert book.timeline().intervals[0].end == START + timedelta(hours=1)


def test_override_opts_out_of_events_in_force_and_back_in_when_it_ends() -> None:
    """Rule 17: a later asynchronous optOut."""
    book = _book()
    book.apply(
        distribute(simple_event(), simple_event(event_id="later", start=START + timedelta(days=1))),
        VEN,
        BEFORE,
    )
    now = START + timedelta(minutes=10)
    out = book.set_override(True, now)
    assert [(r.event_id, r.opt) for r in out] == [("ev-1", Opt.OPT_OUT)]
    assert book.set_override(True, now) == []
    back = book.set_override(False, now)
    assert [(r.event_id, r.opt) for r in back] == [("ev-1", Opt.OPT_IN)]


def test_event_arriving_during_an_override_is_opted_out() -> None:
    book = _book()
    book.set_override(True, START)
    result = book.apply(distribute(simple_event()), VEN, START + timedelta(minutes=1))
    assert result.replies[0].opt is Opt.OPT_OUT


def test_dispatch_setpoint_becomes_an_import_limit_with_its_intervals() -> None:
    book = _book()
    book.apply(distribute(dispatch_event()), VEN, BEFORE)
    intervals = book.timeline().intervals
    assert [(i.kind, i.values, i.unit) for i in intervals] == [
        ("IMPORT_CAPACITY_LIMIT", (1.5,), "KW"),
        ("IMPORT_CAPACITY_LIMIT", (0.0,), "KW"),
    ]
    assert intervals[0].end == intervals[1].start
    assert intervals[0].priority is None  # 2.0b priority 0 is "none"


def test_a_refused_event_repeated_by_the_vtn_is_answered_once() -> None:
    book = _book()
    first = book.apply(distribute(simple_event(7.0)), VEN, BEFORE)
    again = book.apply(distribute(simple_event(7.0)), VEN, BEFORE)
    assert [r.code for r in first.replies] == [ResponseCode.SIGNAL_NOT_SUPPORTED]
    assert again.replies == []
    fixed = book.apply(distribute(simple_event(2.0, modification=1)), VEN, BEFORE)
    assert [r.opt for r in fixed.replies] == [Opt.OPT_IN]

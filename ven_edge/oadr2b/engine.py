"""The 2.0b pull VEN as a state machine (sans-I/O): messages in, messages out, time passed in.

:class:`VenEngine` knows what to send and what an answer means; the transport
(:mod:`ven_edge.oadr2b.link`) only posts what it is given to the service it names and hands each
answer back. Flow (digest §1.1–1.6): oadrQueryRegistration → oadrCreatePartyRegistration →
oadrRegisterReport (METADATA) and oadrRequestEvent; then oadrPoll at the VTN's requested
frequency, again at once after any answer that was not an empty oadrResponse (rule: "except
when emptying the VTN payload"). Answers that call for a reply (oadrCreatedEvent,
oadrCreatedReport, oadrRegisteredReport, oadrCanceledPartyRegistration, oadrResponse) come back
as :class:`Outgoing` values.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from lxml import etree

from ven_edge.oadr2b.build import text
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.distribute import parse_distribute
from ven_edge.oadr2b.envelope import Envelope
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.eventbook import BookResult, EventBook
from ven_edge.oadr2b.ns import EI, PYLD, q
from ven_edge.oadr2b.registration import (
    Registration,
    build_create_party_registration,
    build_query_registration,
    parse_created_party_registration,
)
from ven_edge.oadr2b.replies import (
    EventReply,
    build_canceled_party_registration,
    build_created_event,
    build_poll,
    build_request_event,
    build_response,
    read_response,
)
from ven_edge.oadr2b.reports import (
    STATUS_SPECIFIER,
    USAGE_SPECIFIER,
    ReportRequest,
    Sample,
    build_pending_reports,
    build_register_report,
    build_registered_report,
    build_update_report,
    parse_report_requests,
)
from ven_edge.signals import SignalTimeline

LOG = logging.getLogger(__name__)

Service = Literal["EiRegisterParty", "EiEvent", "EiReport", "EiOpt", "OadrPoll"]

#: Bounds on the VTN's requested poll period: faster than 1 s would be abusive, slower than an
#: hour leaves events undelivered for too long.
MIN_POLL: Final = timedelta(seconds=1)
MAX_POLL: Final = timedelta(hours=1)
#: Most samples kept per report request while the VTN is unreachable (a day at 1-minute
#: granularity); older ones are dropped first.
MAX_SAMPLES: Final = 1440


@dataclass(frozen=True, slots=True)
class Outgoing:
    service: Service
    payload: etree._Element
    what: str


@dataclass
class Reaction:
    """What one incoming message led to."""

    outgoing: list[Outgoing] = field(default_factory=list)
    timeline_changed: bool = False
    #: The report requests changed: the caller saves :meth:`VenEngine.export_state` now, since
    #: the VTN asks for them once and a restart must keep delivering them.
    reports_changed: bool = False
    #: The answer carried something: poll again at once (emptying the VTN's queue).
    substantive: bool = False
    reregister: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class _ReportState:
    request: ReportRequest
    next_sample: datetime
    next_send: datetime
    samples: list[Sample] = field(default_factory=list)


class VenEngine:
    def __init__(
        self,
        ven_name: str,
        resource_name: str,
        *,
        signed: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.ven_name = ven_name
        self.resource_name = resource_name
        self.signed = signed
        self.book = EventBook(rng)
        self.registration: Registration | None = None
        self.poll_period: timedelta | None = None
        self.vtn_id: str | None = None
        self._reports: dict[str, _ReportState] = {}
        self._counter = itertools.count(1)

    # -- ids and persistence -----------------------------------------------------------------
    def _request_id(self) -> str:
        return uuid.uuid4().hex

    @property
    def ven_id(self) -> str | None:
        return None if self.registration is None else self.registration.ven_id

    def export_state(self) -> dict[str, Any]:
        reg = self.registration
        return {
            "registration": None
            if reg is None
            else {
                "vtn_id": reg.vtn_id,
                "ven_id": reg.ven_id,
                "registration_id": reg.registration_id,
                "poll_s": None if reg.poll_freq is None else reg.poll_freq.total_seconds(),
            },
            "events": self.book.export_state(),
            # The VTN asked for these once (oadrRegisteredReport); a restart keeps delivering them.
            "reports": [
                {
                    "request_id": r.request.request_id,
                    "specifier_id": r.request.specifier_id,
                    "granularity_s": r.request.granularity.total_seconds(),
                    "back_s": r.request.back_duration.total_seconds(),
                }
                for r in self._reports.values()
            ],
        }

    def restore_state(self, document: Mapping[str, Any], now: datetime) -> None:
        for item in document.get("reports") or []:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                request = ReportRequest(
                    str(item["request_id"]),
                    str(item["specifier_id"]),
                    timedelta(seconds=float(item["granularity_s"])),
                    timedelta(seconds=float(item["back_s"])),
                )
                if request.specifier_id in (USAGE_SPECIFIER, STATUS_SPECIFIER):
                    self._reports[request.request_id] = _ReportState(
                        request, now, now + request.back_duration
                    )
        events = document.get("events")
        if isinstance(events, Mapping):
            self.book.restore_state(events)
        reg = document.get("registration")
        if isinstance(reg, Mapping):
            ven_id, reg_id, vtn_id = (
                reg.get("ven_id"),
                reg.get("registration_id"),
                reg.get("vtn_id"),
            )
            poll = reg.get("poll_s")
            if isinstance(ven_id, str) and isinstance(reg_id, str) and isinstance(vtn_id, str):
                period = timedelta(seconds=poll) if isinstance(poll, int | float) else None
                self._registered(Registration(vtn_id, ven_id, reg_id, period))

    # -- registration -----------------------------------------------------------------------
    def query_registration(self) -> Outgoing:
        return Outgoing("EiRegisterParty", build_query_registration(self._request_id()), "query")

    def create_registration(self) -> Outgoing:
        return Outgoing(
            "EiRegisterParty",
            build_create_party_registration(self._request_id(), self.ven_name, signed=self.signed),
            "registration",
        )

    def take_registration(self, envelope: Envelope, *, final: bool) -> bool:
        """Read an oadrCreatedPartyRegistration; True once registered. ``final`` marks the answer
        to oadrCreatePartyRegistration, where a missing registrationID means "refused"."""
        answer = parse_created_party_registration(envelope.message)
        if answer.poll_freq is not None:
            self.poll_period = _bounded_poll(answer.poll_freq)
        self.vtn_id = answer.vtn_id or self.vtn_id
        if not final:
            return False
        if answer.registration_id is None or answer.ven_id is None:
            raise MessageError(
                ResponseCode.NOT_REGISTERED_OR_AUTHORIZED,
                "the VTN did not register this VEN (no registrationID)",
            )
        self._registered(answer)
        LOG.info("registered with VTN %s as venID %s", answer.vtn_id, answer.ven_id)
        return True

    def _registered(self, registration: Registration) -> None:
        self.registration = registration
        self.vtn_id = registration.vtn_id
        if registration.poll_freq is not None:
            self.poll_period = _bounded_poll(registration.poll_freq)

    def forget_registration(self) -> None:
        self.registration = None
        self._reports.clear()

    def after_registration(self, now: datetime) -> list[Outgoing]:
        """METADATA report and the event resynchronisation of a (re)registered VEN."""
        ven_id = self._need_ven_id()
        return [
            Outgoing(
                "EiReport",
                build_register_report(ven_id, self._request_id(), now, self.resource_name),
                "register report",
            ),
            Outgoing("EiEvent", build_request_event(ven_id, self._request_id()), "request events"),
        ]

    def poll(self) -> Outgoing:
        return Outgoing("OadrPoll", build_poll(self._need_ven_id()), "poll")

    def _need_ven_id(self) -> str:
        ven_id = self.ven_id
        if ven_id is None:
            raise RuntimeError("not registered")
        return ven_id

    # -- incoming -----------------------------------------------------------------------------
    def handle(self, envelope: Envelope, now: datetime) -> Reaction:
        """React to one message from the VTN (a poll answer or the answer to a send)."""
        name = envelope.name
        reaction = Reaction(substantive=name != "oadrResponse")
        handler = _HANDLERS.get(name)
        if handler is None:
            reaction.problems.append(f"unexpected message {name[:60]}")
            LOG.warning("VTN sent %s, which a 2.0b VEN does not expect; ignored", name[:60])
            return reaction
        try:
            handler(self, envelope.message, now, reaction)
        except MessageError as exc:
            # A message that cannot be used as a whole: said with the reason and answered with
            # its code; nothing it carried is applied (the last good state stays).
            LOG.warning("%s refused: %s; last good state kept", name, exc)
            reaction.problems.append(f"{name} refused: {exc}")
            reaction.outgoing.append(
                Outgoing(
                    _SERVICE_OF.get(name, "EiEvent"),
                    build_response(
                        self.ven_id,
                        (text(envelope.message, f".//{q(PYLD, 'requestID')}") or "")[:256],
                        int(exc.code),
                        exc.reason[:200],
                    ),
                    "refusal",
                )
            )
        return reaction

    def _on_response(self, message: etree._Element, now: datetime, reaction: Reaction) -> None:
        code, description = read_response(message)
        if code == 463 or code == 452:
            # Not registered or unknown venID: the VTN has forgotten this VEN.
            LOG.warning("VTN answered %d %s: registering again", code, description)
            reaction.reregister = True
        elif code >= 300:
            reaction.problems.append(f"VTN answered {code} {description}")
            LOG.warning("VTN answered %d %s", code, description)

    def _on_distribute(self, message: etree._Element, now: datetime, reaction: Reaction) -> None:
        ven_id = self._need_ven_id()
        distribute = parse_distribute(message)
        if self.vtn_id and distribute.vtn_id != self.vtn_id:
            # Rule 21: an unexpected vtnID is refused; the events in force stay as they were.
            reason = f"vtnID {distribute.vtn_id[:60]!r} is not {self.vtn_id!r}"
            LOG.warning("oadrDistributeEvent refused: %s; last good state kept", reason)
            reaction.problems.append(reason)
            reaction.outgoing.append(
                Outgoing(
                    "EiEvent",
                    build_response(ven_id, distribute.request_id, 452, reason[:200]),
                    "refusal",
                )
            )
            return
        result: BookResult = self.book.apply(distribute, ven_id, now)
        reaction.timeline_changed = result.changed
        reaction.problems.extend(result.problems)
        if result.replies:
            reaction.outgoing.append(self._created_event(tuple(result.replies)))

    def _created_event(self, replies: tuple[EventReply, ...]) -> Outgoing:
        return Outgoing("EiEvent", build_created_event(self._need_ven_id(), replies), "opt")

    def _on_reregistration(
        self, message: etree._Element, now: datetime, reaction: Reaction
    ) -> None:
        LOG.info("VTN asks this VEN to register again")
        request_id = text(message, q(PYLD, "requestID"))
        reaction.outgoing.append(
            Outgoing("EiRegisterParty", build_response(self.ven_id, request_id), "response")
        )
        reaction.reregister = True

    def _on_cancel_registration(
        self, message: etree._Element, now: datetime, reaction: Reaction
    ) -> None:
        reg = self.registration
        request_id = text(message, q(PYLD, "requestID"))
        LOG.warning("VTN cancelled this VEN's registration; registering again later")
        if reg is not None and reg.ven_id and reg.registration_id:
            reaction.outgoing.append(
                Outgoing(
                    "EiRegisterParty",
                    build_canceled_party_registration(reg.ven_id, reg.registration_id, request_id),
                    "cancelled registration",
                )
            )
        reaction.reregister = True

    def _on_report_requests(
        self, message: etree._Element, now: datetime, reaction: Reaction
    ) -> None:
        """oadrRegisteredReport (answer to our METADATA) or oadrCreateReport (later)."""
        requests, problems = parse_report_requests(message)
        for problem in problems:
            LOG.warning("%s; ignored", problem)
        reaction.problems.extend(problems)
        reaction.reports_changed = bool(requests)
        for request in requests:
            self._reports[request.request_id] = _ReportState(
                request, now, now + request.back_duration
            )
            LOG.info(
                "VTN asks for %s every %s (granularity %s)",
                request.specifier_id,
                request.back_duration,
                request.granularity,
            )
        is_create = message.tag.endswith("oadrCreateReport")
        if requests or is_create:
            request_id = text(message, q(PYLD, "requestID"))
            reaction.outgoing.append(
                Outgoing(
                    "EiReport",
                    build_pending_reports(
                        "oadrCreatedReport", self._need_ven_id(), request_id, tuple(self._reports)
                    ),
                    "created report",
                )
            )

    def _on_register_report(
        self, message: etree._Element, now: datetime, reaction: Reaction
    ) -> None:
        reaction.outgoing.append(
            Outgoing(
                "EiReport",
                build_registered_report(self._need_ven_id(), text(message, q(PYLD, "requestID"))),
                "registered report",
            )
        )

    def _on_cancel_report(self, message: etree._Element, now: datetime, reaction: Reaction) -> None:
        for node in message.iter(q(EI, "reportRequestID")):
            if self._reports.pop((node.text or "").strip(), None) is not None:
                reaction.reports_changed = True
        reaction.outgoing.append(
            Outgoing(
                "EiReport",
                build_pending_reports(
                    "oadrCanceledReport",
                    self._need_ven_id(),
                    text(message, q(PYLD, "requestID")),
                    tuple(self._reports),
                ),
                "cancelled report",
            )
        )

    def _on_nothing(self, message: etree._Element, now: datetime, reaction: Reaction) -> None:
        self._on_response(message, now, reaction)
        reaction.substantive = False

    # -- the customer and the reports ----------------------------------------------------------
    def override(self, active: bool, now: datetime) -> list[Outgoing]:
        replies = self.book.set_override(active, now)
        if not replies or self.ven_id is None:
            return []
        return [self._created_event(tuple(replies))]

    def due_reports(self, now: datetime, sample: Sample) -> list[Outgoing]:
        """Sample at each request's granularity; an oadrUpdateReport per request whose
        report-back period has passed (queued by the caller: they must survive outages)."""
        ven_id = self.ven_id
        if ven_id is None:
            return []
        due: list[Outgoing] = []
        for state in self._reports.values():
            if now >= state.next_sample:
                state.samples.append(
                    Sample(now, sample.power_w, sample.online, sample.manual_override)
                )
                del state.samples[:-MAX_SAMPLES]
                state.next_sample = max(now, state.next_sample + state.request.granularity)
            if now >= state.next_send and state.samples:
                payload = build_update_report(
                    ven_id,
                    self._request_id(),
                    state.request,
                    tuple(state.samples),
                    f"{state.request.request_id}-{next(self._counter)}",
                    now,
                )
                due.append(
                    Outgoing("EiReport", payload, f"update report {state.request.specifier_id}")
                )
                state.samples.clear()
                state.next_send = max(now, state.next_send + state.request.back_duration)
        return due

    def timeline(self) -> SignalTimeline:
        return self.book.timeline()


def _bounded_poll(period: timedelta) -> timedelta:
    return min(max(period, MIN_POLL), MAX_POLL)


def _on_registration(
    engine: VenEngine, message: etree._Element, now: datetime, reaction: Reaction
) -> None:
    # An unsolicited oadrCreatedPartyRegistration carries nothing to act on.
    reaction.substantive = False


#: The service a refusal of a message goes to: that of its family (simpleHttp services).
_SERVICE_OF: Final[dict[str, Service]] = {
    "oadrDistributeEvent": "EiEvent",
    "oadrRegisteredReport": "EiReport",
    "oadrCreateReport": "EiReport",
    "oadrRegisterReport": "EiReport",
    "oadrCancelReport": "EiReport",
    "oadrCancelPartyRegistration": "EiRegisterParty",
    "oadrRequestReregistration": "EiRegisterParty",
}

_HANDLERS: Final = {
    "oadrResponse": VenEngine._on_response,
    "oadrDistributeEvent": VenEngine._on_distribute,
    "oadrRequestReregistration": VenEngine._on_reregistration,
    "oadrCancelPartyRegistration": VenEngine._on_cancel_registration,
    "oadrRegisteredReport": VenEngine._on_report_requests,
    "oadrCreateReport": VenEngine._on_report_requests,
    "oadrRegisterReport": VenEngine._on_register_report,
    "oadrCancelReport": VenEngine._on_cancel_report,
    "oadrUpdatedReport": VenEngine._on_nothing,
    "oadrCreatedOpt": VenEngine._on_nothing,
    "oadrCanceledOpt": VenEngine._on_nothing,
    "oadrCreatedPartyRegistration": _on_registration,
}

"""The 2.0b face: one request body in, one answer out (docs/vtn-lite-2.0b.md "Messages").

Transport-free: :mod:`vtn_lite.oadr2b.http` reads the body and the client certificate's
fingerprint and writes the answer. Every refusal is logged with its reason and answered with
the profile's response code; nothing a VEN sends changes another VEN's state or the events.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from lxml import etree

from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.distribute import build_distribute
from ven_edge.oadr2b.envelope import Envelope
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.events import DistributeEvent, Event
from ven_edge.oadr2b.xmlsig import MessageSigner, SignatureChecker, SignatureError
from vtn_lite.oadr2b import inbound, outbound
from vtn_lite.oadr2b.eventfeed import EventFeed
from vtn_lite.oadr2b.mapping import utc_now
from vtn_lite.oadr2b.registry import PartyRequest, Refused, Registry, client_id_of
from vtn_lite.oadr2b.settings import Oadr2bSettings
from vtn_lite.oadr2b.telemetry import ReportSink, Telemetry
from vtn_lite.service import Vtn
from vtn_lite.storage import Oadr2bRegistration

log = logging.getLogger(__name__)

#: VEN certificates whose signature checkers (and replay nonces) are kept.
MAX_CHECKERS = 10_000
#: How often old 2.0b records are pruned.
PRUNE_EVERY_S = 3600.0
#: Distributes of one event list sent to a VEN that does not answer them (rule 52).
MAX_REPEATS = 3


@dataclass(slots=True)
class _Unanswered:
    """A distribute sent and not yet answered in full: its digest, how often it was sent, the
    (eventID, modificationNumber) pairs it holds and those answered so far."""

    digest: str
    count: int
    wanted: frozenset[tuple[str, int]]
    answered: set[tuple[str, int]] = field(default_factory=set)


def _digest(events: list[Event]) -> str:
    text = "\n".join(f"{e.event_id} {e.modification_number} {e.status.value}" for e in events)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Answer:
    """The XML to send and the HTTP status (200 unless the body could not be read at all)."""

    body: bytes
    status: int = 200


class Face:
    def __init__(
        self,
        vtn: Vtn,
        settings: Oadr2bSettings,
        *,
        clock: Callable[[], float],
        checkin: Callable[[str], None] | None = None,
        reports: ReportSink | None = None,
    ) -> None:
        self.vtn = vtn
        self.store = vtn.store
        self.settings = settings
        self.registry = Registry(
            vtn,
            fingerprints=settings.fingerprints,
            auto_approve=settings.auto_approve,
            clock=clock,
        )
        self._clock = clock
        self._checkin = checkin
        self.feed = EventFeed(vtn, clock=clock)
        self._unanswered: dict[str, _Unanswered] = {}
        self._pruned_at = -PRUNE_EVERY_S
        self.telemetry = Telemetry(
            vtn.store,
            period=timedelta(seconds=settings.poll_interval),
            clock=clock,
            sink=reports,
        )
        # Over mutual TLS the VTN signs what it sends and checks what VENs sign (rule 67;
        # openleadr signs with the TLS key): one checker per VEN certificate, whose nonces it
        # remembers against replays.
        self._signer: MessageSigner | None = None
        if settings.tls_cert is not None and settings.tls_key is not None:
            self._signer = MessageSigner.from_files(
                Path(settings.tls_cert), Path(settings.tls_key), self._now
            )
        self._checkers: OrderedDict[str, SignatureChecker] = OrderedDict()

    def _now(self) -> datetime:
        return utc_now(self._clock())

    # --- entry ------------------------------------------------------------------------------

    async def handle(self, body: bytes, *, fingerprint: str | None, peer: str = "") -> Answer:
        try:
            envelope = inbound.open_body(body, max_bytes=self.settings.max_body_bytes)
        except MessageError as exc:
            log.warning("2.0b request from %s refused: %s", peer or "?", exc)
            return Answer(self._error(exc, None), status=400)
        try:
            signed = self._check_signature(envelope, fingerprint)
            request = inbound.read_request(envelope)
            answer = await self._dispatch(request, fingerprint, signed=signed)
            await self._prune_now_and_then()
        except MessageError as exc:
            log.warning("2.0b %s from %s refused: %s", envelope.name[:64], peer or "?", exc)
            return Answer(self._error(exc, None))
        return Answer(self._bytes(answer))

    async def _prune_now_and_then(self) -> None:
        """Opt responses and reports are kept ``keep_records_days`` (a fleet reporting every
        10 s writes millions of rows a day); pruned at most once an hour."""
        now = self._clock()
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        dropped = await self.store.prune_oadr2b_records(
            now - self.settings.keep_records_days * 86400
        )
        if dropped:
            log.info(
                "forgot %d 2.0b records older than %g days",
                dropped,
                self.settings.keep_records_days,
            )

    def _bytes(self, payload: etree._Element) -> bytes:
        return self._signer.sign(payload) if self._signer is not None else to_bytes(payload)

    def _error(self, exc: MessageError, ven_id: str | None) -> bytes:
        reply = outbound.Reply(int(exc.code), exc.reason)
        return self._bytes(outbound.response(reply, ven_id))

    def _check_signature(self, envelope: Envelope, fingerprint: str | None) -> bool:
        """True for a message signed by the certificate of its TLS connection. A signature
        that does not verify is refused (463: the sender is not who it claims); over lab
        HTTP there is no certificate to hold a signature against, so it is not checked."""
        if envelope.signature is None or fingerprint is None:
            return False
        checker = self._checkers.pop(fingerprint, None) or SignatureChecker(fingerprint, self._now)
        self._checkers[fingerprint] = checker
        while len(self._checkers) > MAX_CHECKERS:
            self._checkers.popitem(last=False)
        try:
            checker.verify(envelope.payload)
        except SignatureError as exc:
            raise MessageError(
                ResponseCode.NOT_REGISTERED_OR_AUTHORIZED, f"XML signature refused: {exc}"
            ) from None
        return True

    async def _dispatch(
        self, request: inbound.Request, fingerprint: str | None, *, signed: bool
    ) -> etree._Element:
        if isinstance(request, inbound.QueryRegistration):
            return self._created_party(outbound.Reply(request_id=request.request_id), None)
        if isinstance(request, inbound.CreatePartyRegistration):
            return await self._register(request, fingerprint)
        registration = await self._registered(_ven_id_of(request), fingerprint)
        if fingerprint is not None and registration.info.get("xmlSignature") and not signed:
            raise MessageError(
                ResponseCode.NOT_REGISTERED_OR_AUTHORIZED,
                f"{registration.ven_name} registered to sign its messages; this one is not signed",
            )
        if self._checkin is not None:
            self._checkin(client_id_of(registration.ven_name))
        if isinstance(request, inbound.CancelPartyRegistration):
            return await self._cancel(request, registration)
        if isinstance(request, inbound.VenMessage):
            return await self._ven_message(request, registration)
        if registration.state != "approved":
            raise MessageError(
                ResponseCode.NOT_REGISTERED_OR_AUTHORIZED,
                f"{registration.ven_name} is {registration.state}, not registered",
            )
        if isinstance(request, inbound.RequestEvent):
            return await self._distribute(registration, always=True)
        if isinstance(request, inbound.CreatedEvent):
            return await self._created_event(request, registration)
        if isinstance(request, inbound.RegisterReport):
            return await self.telemetry.register_report(request, registration)
        if isinstance(request, inbound.UpdateReport):
            return await self.telemetry.update_report(request, registration)
        if isinstance(request, inbound.CreateOpt):
            return await self._create_opt(request, registration)
        return await self._cancel_opt(request, registration)

    # --- registration -------------------------------------------------------------------------

    def _created_party(
        self, reply: outbound.Reply, registration: Oadr2bRegistration | None
    ) -> etree._Element:
        approved = registration is not None and registration.state == "approved"
        return outbound.created_party_registration(
            reply,
            vtn_id=self.settings.vtn_id,
            poll_interval=timedelta(seconds=self.settings.poll_interval),
            ven_id=registration.ven_id if approved and registration else None,
            registration_id=registration.registration_id if approved and registration else None,
        )

    async def _register(
        self, request: inbound.CreatePartyRegistration, fingerprint: str | None
    ) -> etree._Element:
        reply = outbound.Reply(request_id=request.request_id)
        if request.profile != outbound.PROFILE or request.transport != outbound.TRANSPORT:
            code, reason = 451, f"only {outbound.PROFILE} over {outbound.TRANSPORT} is served"
        elif not request.pull:
            code, reason = 451, "only the pull model is served (oadrHttpPullModel true)"
        else:
            info = {
                "profile": request.profile,
                "transport": request.transport,
                "pull": request.pull,
                "xmlSignature": request.signature,
                "reportOnly": request.report_only,
            }
            try:
                registration = await self.registry.request(
                    PartyRequest(request.ven_name, fingerprint, info)
                )
            except Refused as exc:
                code, reason = exc.code, exc.reason
            else:
                if registration.state == "approved":
                    if request.ven_id and request.ven_id != registration.ven_id:
                        log.info(
                            "2.0b VEN %r registered again under venID %s (it asked for %s)",
                            request.ven_name,
                            registration.ven_id,
                            request.ven_id[:64],
                        )
                    return self._created_party(reply, registration)
                code = int(ResponseCode.NOT_REGISTERED_OR_AUTHORIZED)
                reason = (
                    "registration pending operator approval"
                    if registration.state == "pending"
                    else f"registration {registration.state}"
                )
        log.warning("2.0b registration of %r: %d %s", request.ven_name[:64], code, reason)
        return self._created_party(outbound.Reply(code, reason, request.request_id), None)

    async def _registered(self, ven_id: str, fingerprint: str | None) -> Oadr2bRegistration:
        registration = await self.store.oadr2b_registration_of(ven_id)
        if registration is None:
            raise MessageError(ResponseCode.INVALID_ID, f"venID {ven_id[:64]} is not registered")
        if (
            fingerprint is not None
            and registration.fingerprint is not None
            and fingerprint != registration.fingerprint
        ):
            raise MessageError(
                ResponseCode.NOT_REGISTERED_OR_AUTHORIZED,
                f"certificate {fingerprint} is not the one venID {ven_id[:64]} registered with",
            )
        return registration

    async def _cancel(
        self, request: inbound.CancelPartyRegistration, registration: Oadr2bRegistration
    ) -> etree._Element:
        reply = outbound.Reply(request_id=request.request_id)
        if request.registration_id != registration.registration_id:
            reply = outbound.Reply(452, "registrationID does not match", request.request_id)
            log.warning("2.0b cancel of %r with a wrong registrationID", registration.ven_name)
        else:
            await self.registry.cancelled_by_ven(registration)
        return outbound.canceled_party_registration(
            reply, registration_id=request.registration_id, ven_id=registration.ven_id
        )

    async def _ven_message(
        self, request: inbound.VenMessage, registration: Oadr2bRegistration
    ) -> etree._Element:
        ven_id = registration.ven_id or ""
        if request.kind == "oadrPoll":
            if registration.state == "cancelling":
                return outbound.cancel_party_registration(
                    uuid.uuid4().hex,
                    registration_id=registration.registration_id or "",
                    ven_id=ven_id,
                )
            if registration.state == "reregister":
                return outbound.request_reregistration(ven_id)
            if registration.state != "approved":
                raise MessageError(
                    ResponseCode.NOT_REGISTERED_OR_AUTHORIZED,
                    f"{registration.ven_name} is {registration.state}, not registered",
                )
            return await self._distribute(registration, always=False)
        if request.kind == "oadrCanceledPartyRegistration" and registration.state == "cancelling":
            await self.registry.revoked(registration)
        return outbound.response(outbound.Reply(request_id=request.request_id or ""), ven_id)

    # --- events -----------------------------------------------------------------------------

    async def _distribute(
        self, registration: Oadr2bRegistration, *, always: bool
    ) -> etree._Element:
        """The VEN's events when they changed since it last acknowledged them (or when it
        asks). A distribute is repeated at each poll until the VEN's oadrCreatedEvent answers
        every event in it (rule 52; every event is sent with responseRequired always), at most
        ``MAX_REPEATS`` times: a VEN that never answers is not sent the same list forever."""
        ven_id = registration.ven_id or ""
        name = registration.ven_name
        events = await self.feed.events_for(registration)
        digest = _digest(events)
        if digest == registration.delivered and not always:
            return outbound.response(outbound.Reply(), ven_id)
        sent = self._unanswered.get(name)
        count = sent.count + 1 if sent is not None and sent.digest == digest else 1
        if not events or count >= MAX_REPEATS:
            if events:
                log.warning(
                    "2.0b VEN %r did not answer %d distributes of its events; not repeated",
                    name,
                    count,
                )
            self._unanswered.pop(name, None)
            await self.store.set_oadr2b_delivered(name, digest)
        else:
            wanted = frozenset((e.event_id, e.modification_number) for e in events)
            self._unanswered[name] = _Unanswered(digest, count, wanted)
        message = DistributeEvent(uuid.uuid4().hex, self.settings.vtn_id, tuple(events))
        return build_distribute(message)

    async def _answered(
        self, registration: Oadr2bRegistration, answered: set[tuple[str, int]]
    ) -> None:
        sent = self._unanswered.get(registration.ven_name)
        if sent is None:
            return
        sent.answered.update(answered)
        if sent.wanted <= sent.answered:
            del self._unanswered[registration.ven_name]
            await self.store.set_oadr2b_delivered(registration.ven_name, sent.digest)

    async def _created_event(
        self, request: inbound.CreatedEvent, registration: Oadr2bRegistration
    ) -> etree._Element:
        ven_id = registration.ven_id or ""
        now = self._clock()
        unknown = []
        for response in request.responses:
            current = await self.feed.current_number(response.event_id)
            if current is None:
                unknown.append(response.event_id)
                continue
            if response.modification_number != current:
                # Rule 17/58: an answer to an older version does not stand for this one.
                unknown.append(f"{response.event_id}#{response.modification_number}")
                continue
            await self.store.add_oadr2b_record(
                ven_id,
                "opt",
                now,
                {
                    "eventID": response.event_id,
                    "modificationNumber": response.modification_number,
                    "optType": response.opt,
                    "responseCode": response.code,
                    "via": "oadrCreatedEvent",
                },
            )
        await self._answered(
            registration, {(r.event_id, r.modification_number) for r in request.responses}
        )
        if unknown:
            reason = "unknown event or modification: " + ", ".join(u[:64] for u in unknown[:5])
            log.warning("2.0b oadrCreatedEvent from %r: %s", registration.ven_name, reason)
            return outbound.response(outbound.Reply(452, reason), ven_id)
        return outbound.response(outbound.Reply(), ven_id)

    async def _create_opt(
        self, request: inbound.CreateOpt, registration: Oadr2bRegistration
    ) -> etree._Element:
        reply = outbound.Reply(request_id=request.request_id)
        if (
            request.event_id is not None
            and await self.feed.current_number(request.event_id) is None
        ):
            reply = outbound.Reply(452, "unknown eventID", request.request_id)
        else:
            await self.store.add_oadr2b_record(
                registration.ven_id or "",
                "opt",
                self._clock(),
                {
                    "optID": request.opt_id,
                    "optType": request.opt,
                    "optReason": request.reason,
                    "eventID": request.event_id,
                    "modificationNumber": request.modification_number,
                    "via": "oadrCreateOpt",
                },
            )
        return outbound.opt_answer("oadrCreatedOpt", reply, opt_id=request.opt_id)

    async def _cancel_opt(
        self, request: inbound.CancelOpt, registration: Oadr2bRegistration
    ) -> etree._Element:
        await self.store.add_oadr2b_record(
            registration.ven_id or "",
            "opt",
            self._clock(),
            {"optID": request.opt_id, "optType": "cancelled", "via": "oadrCancelOpt"},
        )
        reply = outbound.Reply(request_id=request.request_id)
        return outbound.opt_answer("oadrCanceledOpt", reply, opt_id=request.opt_id)

    # --- reports ----------------------------------------------------------------------------


def _ven_id_of(request: inbound.Request) -> str:
    ven_id = getattr(request, "ven_id", None)
    if not isinstance(ven_id, str) or not ven_id:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, "missing venID")
    return ven_id

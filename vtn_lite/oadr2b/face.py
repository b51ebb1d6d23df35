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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lxml import etree

from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.distribute import build_distribute
from ven_edge.oadr2b.envelope import Envelope
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.events import DistributeEvent, Event, EventStatus, Targets
from ven_edge.oadr2b.xmlsig import MessageSigner, SignatureChecker, SignatureError
from vtn_lite.console.directory import ven_of_target
from vtn_lite.oadr2b import inbound, outbound
from vtn_lite.oadr2b.mapping import Unmapped, at_time, to_2b_event, utc_now
from vtn_lite.oadr2b.registry import PartyRequest, Refused, Registry, client_id_of
from vtn_lite.oadr2b.settings import Oadr2bSettings
from vtn_lite.service import Vtn, event_bounds
from vtn_lite.storage import Oadr2bRegistration, Query, StoredObject

log = logging.getLogger(__name__)

#: Telemetry reports the VTN asks for when a VEN registers them (docs/vtn-lite-2.0b.md).
WANTED_REPORTS = ("METADATA_TELEMETRY_USAGE", "METADATA_TELEMETRY_STATUS")
#: How long a deleted event is still sent as cancelled when its end is unknown (open-ended).
CANCEL_KEPT = timedelta(days=1)
_ALL = 10**6
#: How often the cancellations still sent are read from the store (other processes' too).
CANCELLED_REREAD_S = 1.0
#: Mapped event versions kept (a few per event and recipient shape).
MAX_MAPPED = 50_000
#: VEN certificates whose signature checkers (and replay nonces) are kept.
MAX_CHECKERS = 10_000

ReportSink = Callable[[str, list[dict[str, Any]]], None]


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
        self._reports = reports
        self._modifications: dict[str, tuple[str, int]] = {}
        self._unmapped: set[tuple[str, str]] = set()
        # Mapped events by version and recipient shape: a steady poll maps nothing again.
        self._mapped: dict[tuple[str, str, int, Targets, bool], Event | None] = {}
        self._cancelled: tuple[float, list[tuple[str, int, str]]] | None = None
        vtn.listeners.append(self._on_change)
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
        except MessageError as exc:
            log.warning("2.0b %s from %s refused: %s", envelope.name[:64], peer or "?", exc)
            return Answer(self._error(exc, None))
        return Answer(self._bytes(answer))

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
            return await self._register_report(request, registration)
        if isinstance(request, inbound.UpdateReport):
            return await self._update_report(request, registration)
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
        ven_id = registration.ven_id or ""
        events = await self.events_for(registration)
        digest = hashlib.sha256(
            "\n".join(
                f"{e.event_id} {e.modification_number} {e.status.value}" for e in events
            ).encode()
        ).hexdigest()[:32]
        if digest == registration.delivered and not always:
            return outbound.response(outbound.Reply(), ven_id)
        await self.store.set_oadr2b_delivered(registration.ven_name, digest)
        message = DistributeEvent(uuid.uuid4().hex, self.settings.vtn_id, tuple(events))
        return build_distribute(message)

    async def events_for(self, registration: Oadr2bRegistration) -> list[Event]:
        """Every far, near and active event for the VEN (rule 50), cancellations still due
        (rules 5, 66), active first, then by priority, then by start (rule 15)."""
        now_s = self._clock()
        now = utc_now(now_s)
        granted = await self.vtn.granted_targets(client_id_of(registration.ven_name)) or ()
        rows = await self.store.search(
            Query(kind="EVENT", visible_targets=granted, active_at=now_s, limit=_ALL)
        )
        events: list[Event] = []
        for stored in rows:
            body = stored.body
            number = await self._modification(stored.id, body)
            mapped = await self._map(body, registration, granted, number, now)
            if mapped is not None and mapped.status is not EventStatus.COMPLETED:
                events.append(mapped)
        for event_id, number, body_text in await self._cancellations(now_s):
            body = StoredObject(0, event_id, "EVENT", body_text, None, None, None, None).body
            targets = tuple(body.get("targets") or ())
            if targets and not set(targets) & set(granted):
                continue
            mapped = await self._map(body, registration, granted, number, now, cancelled=True)
            if mapped is not None:
                events.append(mapped)
        events.sort(
            key=lambda e: (
                e.status is not EventStatus.ACTIVE,
                e.priority == 0,
                e.priority,
                e.dtstart,
            )
        )
        return events

    async def _map(
        self,
        body: dict[str, Any],
        registration: Oadr2bRegistration,
        granted: tuple[str, ...],
        number: int,
        now: datetime,
        *,
        cancelled: bool = False,
    ) -> Event | None:
        key = (
            str(body.get("id", "")),
            str(body.get("modificationDateTime", "")),
            number,
            _targets(body, registration, granted),
            cancelled,
        )
        if key in self._mapped:
            known = self._mapped[key]
            return at_time(known, now) if known is not None else None
        if len(self._mapped) >= MAX_MAPPED:
            self._mapped.clear()
        mapped = await self._map_anew(body, key[3], number, now, cancelled=cancelled)
        self._mapped[key] = mapped
        return mapped

    async def _map_anew(
        self, body: dict[str, Any], targets: Targets, number: int, now: datetime, *, cancelled: bool
    ) -> Event | None:
        program = await self.store.get("PROGRAM", str(body.get("programID", "")))
        program_body = program.body if program is not None else {}
        name = str(program_body.get("programName") or body.get("programID") or "unknown")
        mapped = to_2b_event(
            body,
            modification=number,
            now=now,
            targets=targets,
            market_context=f"oadr://vtn-lite/{quote(name, safe='')}",
            program_descriptors=[
                d for d in program_body.get("payloadDescriptors") or () if isinstance(d, dict)
            ],
            cancelled=cancelled,
        )
        if isinstance(mapped, Unmapped):
            key = (mapped.event_id, str(body.get("modificationDateTime")))
            if key not in self._unmapped:
                self._unmapped.add(key)
                log.warning("event %s is not sent to 2.0b VENs: %s", mapped.event_id, mapped.reason)
            return None
        return mapped

    async def _modification(self, event_id: str, body: dict[str, Any]) -> int:
        stamp = str(body.get("modificationDateTime", ""))
        known = self._modifications.get(event_id)
        if known is not None and known[0] == stamp:
            return known[1]
        number = await self.store.oadr2b_modification(event_id, stamp)
        self._modifications[event_id] = (stamp, number)
        return number

    async def _cancellations(self, now: float) -> list[tuple[str, int, str]]:
        """The cancellations still sent, read again (and the expired ones dropped) at most
        once a second, or at once after this process cancelled an event."""
        if self._cancelled is None or now - self._cancelled[0] >= CANCELLED_REREAD_S:
            self._cancelled = (now, await self.store.oadr2b_cancelled(now))
        return self._cancelled[1]

    async def _on_change(self, operation: str, stored: StoredObject) -> None:
        """A deleted event is sent as cancelled, one modification later (rule 5), until it
        would have ended plus its randomisation (rule 66)."""
        if stored.kind == "PROGRAM":
            self._mapped.clear()  # its name and descriptors are in the mapped events
        if stored.kind != "EVENT" or operation != "DELETE":
            return
        now = self._clock()
        bounds = event_bounds(stored.body, utc_now(now))
        end = bounds[1] if bounds is not None else None
        keep = end.timestamp() + 3600 if end is not None else now + CANCEL_KEPT.total_seconds()
        if keep <= now:
            return  # over already: nobody needs to hear it was cancelled
        self._modifications.pop(stored.id, None)
        await self.store.oadr2b_cancel(stored.id, stored.body_text, keep)
        self._cancelled = None

    async def _created_event(
        self, request: inbound.CreatedEvent, registration: Oadr2bRegistration
    ) -> etree._Element:
        ven_id = registration.ven_id or ""
        now = self._clock()
        unknown = []
        for response in request.responses:
            current = await self._current_number(response.event_id)
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
        if unknown:
            reason = "unknown event or modification: " + ", ".join(u[:64] for u in unknown[:5])
            log.warning("2.0b oadrCreatedEvent from %r: %s", registration.ven_name, reason)
            return outbound.response(outbound.Reply(452, reason), ven_id)
        return outbound.response(outbound.Reply(), ven_id)

    async def _current_number(self, event_id: str) -> int | None:
        stored = await self.store.get("EVENT", event_id)
        if stored is not None:
            return await self._modification(stored.id, stored.body)
        for cancelled_id, number, _ in await self._cancellations(self._clock()):
            if cancelled_id == event_id:
                return number
        return None

    async def _create_opt(
        self, request: inbound.CreateOpt, registration: Oadr2bRegistration
    ) -> etree._Element:
        reply = outbound.Reply(request_id=request.request_id)
        if request.event_id is not None and await self._current_number(request.event_id) is None:
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

    async def _register_report(
        self, request: inbound.RegisterReport, registration: Oadr2bRegistration
    ) -> etree._Element:
        ven_id = registration.ven_id or ""
        period = timedelta(seconds=self.settings.poll_interval)
        requests = tuple(
            outbound.ReportRequest(
                request_id=uuid.uuid4().hex,
                specifier_id=report.specifier_id,
                granularity=period,
                report_back=period,
                r_ids=tuple((d.r_id, d.reading_type or "Direct Read") for d in report.descriptions),
            )
            for report in request.reports
            if report.name in WANTED_REPORTS and report.descriptions
        )
        # A new METADATA report replaces the previous one (digest §1.6).
        await self.store.add_oadr2b_record(
            ven_id,
            "metadata",
            self._clock(),
            {
                "reports": [
                    {
                        "reportSpecifierID": report.specifier_id,
                        "reportName": report.name,
                        "descriptions": [
                            {
                                "rID": d.r_id,
                                "reportType": d.report_type,
                                "readingType": d.reading_type,
                                "units": d.units,
                                "resourceID": d.resource_id,
                            }
                            for d in report.descriptions
                        ],
                    }
                    for report in request.reports
                ],
                "requested": [r.specifier_id for r in requests],
            },
        )
        reply = outbound.Reply(request_id=request.request_id)
        return outbound.registered_report(reply, ven_id=ven_id, requests=requests)

    async def _update_report(
        self, request: inbound.UpdateReport, registration: Oadr2bRegistration
    ) -> etree._Element:
        ven_id = registration.ven_id or ""
        units = await self._units(ven_id)
        values: list[dict[str, Any]] = []
        for report in request.reports:
            points = [
                {
                    "at": point.at.isoformat().replace("+00:00", "Z"),
                    "rID": point.r_id,
                    "value": point.value,
                    "units": units.get((report.specifier_id, point.r_id)),
                }
                for point in report.points
            ]
            await self.store.add_oadr2b_record(
                ven_id,
                "report",
                self._clock(),
                {
                    "reportName": report.name,
                    "reportSpecifierID": report.specifier_id,
                    "reportRequestID": report.report_request_id,
                    "points": points,
                },
            )
            values.extend(points)
        if self._reports is not None and values:
            self._reports(client_id_of(registration.ven_name), values)
        reply = outbound.Reply(request_id=request.request_id)
        return outbound.updated_report(reply, ven_id=ven_id)

    async def _units(self, ven_id: str) -> dict[tuple[str, str], str | None]:
        found: dict[tuple[str, str], str | None] = {}
        for record in await self.store.oadr2b_records("metadata", ven_id=ven_id, limit=1):
            for report in record.body.get("reports", []):
                for description in report.get("descriptions", []):
                    key = (str(report.get("reportSpecifierID")), str(description.get("rID")))
                    found[key] = description.get("units")
        return found


def _ven_id_of(request: inbound.Request) -> str:
    ven_id = getattr(request, "ven_id", None)
    if not isinstance(ven_id, str) or not ven_id:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, "missing venID")
    return ven_id


def _targets(
    body: dict[str, Any], registration: Oadr2bRegistration, granted: tuple[str, ...]
) -> Targets:
    """The event's targets as this VEN sees them: venID for a per-VEN target, groupID for a
    group it belongs to, nothing for an untargeted event ("the recipient", rule 22)."""
    matched = [t for t in body.get("targets") or () if t in granted]
    ven_ids = tuple(
        registration.ven_id or "" for t in matched if ven_of_target(t) == registration.ven_id
    )[:1]  # one venID at most (rule 63)
    groups = tuple(t for t in matched if ven_of_target(t) is None)
    return Targets(ven_ids=ven_ids, group_ids=groups)

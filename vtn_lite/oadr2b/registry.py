"""2.0b party registrations and their operator approval (docs/vtn-lite-2.0b.md "Registration").

A VEN's oadrCreatePartyRegistration is *pending* until an operator approves it (console or
``vtn-lite oadr2b approve``), unless ``auto_approve`` is set. Approval creates a 3.x ven object
(client ``oadr2b:<venName>``) whose id is the 2.0b venID: 2.0b VENs then share targets, groups,
the console's VEN list and dispatch with 3.x VENs.

States: pending → approved | rejected; approved → cancelling (operator revokes: the next poll
carries oadrCancelPartyRegistration; revoked once the VEN confirms; a new registration needs
approval again) | cancelled (the
VEN cancelled itself: its approval stands, it may register again) | reregister (operator asks:
the next poll carries oadrRequestReregistration).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from vtn_lite.auth import Principal
from vtn_lite.errors import ApiError
from vtn_lite.service import Vtn
from vtn_lite.storage import Oadr2bRegistration

log = logging.getLogger(__name__)

CLIENT_PREFIX: Final = "oadr2b:"
#: The ven object attribute that marks a 2.0b VEN (the console's protocol column).
PROTOCOL_ATTRIBUTE: Final = "OADR_PROTOCOL"
PROTOCOL_2B: Final = "2.0b"
# Who writes the ven objects of 2.0b VENs: the face itself, with business-logic rights.
FACE: Final = Principal("vtn-lite-oadr2b", "bl")
# 2.0b names are free text; this bounds them to what a 3.x client id can hold.
MAX_NAME: Final = 120


class Refused(Exception):
    """A registration request the VTN answers with an OpenADR error code (Table 13)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PartyRequest:
    """What an oadrCreatePartyRegistration asks for."""

    ven_name: str
    fingerprint: str | None  # of the TLS client certificate; None over lab plain HTTP
    info: dict[str, Any]  # profile, transport, pull model, signature, report only


def client_id_of(ven_name: str) -> str:
    return f"{CLIENT_PREFIX}{ven_name}"


class Registry:
    def __init__(
        self,
        vtn: Vtn,
        *,
        fingerprints: dict[str, str],
        auto_approve: bool,
        clock: Callable[[], float],
    ) -> None:
        self.vtn = vtn
        self.store = vtn.store
        self._fingerprints = fingerprints
        self._auto_approve = auto_approve
        self._clock = clock

    async def request(self, request: PartyRequest) -> Oadr2bRegistration:
        """Record a registration request; the result's state says what to answer."""
        name = request.ven_name
        if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
            raise Refused(452, f"venName must be 1 to {MAX_NAME} printable characters")
        expected = self._fingerprints.get(name)
        if request.fingerprint is not None and expected not in (None, request.fingerprint):
            raise Refused(
                463, f"certificate fingerprint {request.fingerprint} is not the one of {name}"
            )
        now = self._clock()
        known = await self.store.oadr2b_registration(name)
        if known is not None and known.fingerprint and request.fingerprint != known.fingerprint:
            # A registration is bound to the certificate it was made with: another
            # certificate cannot take over an approved name.
            raise Refused(463, f"{name} is registered with another certificate")
        if known is None or known.state in ("cancelling", "revoked"):
            state = "pending"
        elif known.state in ("approved", "cancelled", "reregister"):
            state = "approved"
        else:
            state = known.state  # pending or rejected: the operator decides
        registration = Oadr2bRegistration(
            ven_name=name,
            state=state,
            requested_at=now,
            updated_at=now,
            ven_id=known.ven_id if known else None,
            registration_id=known.registration_id if known else None,
            fingerprint=request.fingerprint,
            info=request.info,
            delivered=None,
        )
        if state == "pending" and self._auto_approve:
            return await self._approve(registration)
        if state == "approved":
            return await self._approve(registration)
        await self.store.save_oadr2b_registration(registration)
        if state == "pending":
            log.info("2.0b VEN %r asks to register; pending operator approval", name)
        return registration

    async def approve(self, ven_name: str) -> Oadr2bRegistration:
        known = await self._known(ven_name)
        return await self._approve(known)

    async def reject(self, ven_name: str) -> Oadr2bRegistration:
        return await self._set_state(ven_name, "rejected")

    async def revoke(self, ven_name: str) -> Oadr2bRegistration:
        """Operator cancel: the VEN hears oadrCancelPartyRegistration at its next poll."""
        return await self._set_state(ven_name, "cancelling")

    async def ask_reregistration(self, ven_name: str) -> Oadr2bRegistration:
        known = await self._known(ven_name)
        if known.state != "approved":
            raise ApiError(409, f"{ven_name} is {known.state}, not registered")
        return await self._set_state(ven_name, "reregister")

    async def cancelled_by_ven(self, known: Oadr2bRegistration) -> None:
        await self.store.save_oadr2b_registration(
            replace(known, state="cancelled", updated_at=self._clock(), delivered=None)
        )
        log.info("2.0b VEN %r cancelled its registration", known.ven_name)

    async def revoked(self, known: Oadr2bRegistration) -> None:
        """The VEN confirmed the operator's cancel (oadrCanceledPartyRegistration)."""
        await self.store.save_oadr2b_registration(
            replace(known, state="revoked", updated_at=self._clock(), delivered=None)
        )

    async def _known(self, ven_name: str) -> Oadr2bRegistration:
        known = await self.store.oadr2b_registration(ven_name)
        if known is None:
            raise ApiError(404, f"no 2.0b registration for {ven_name!r}")
        return known

    async def _set_state(self, ven_name: str, state: str) -> Oadr2bRegistration:
        known = await self._known(ven_name)
        updated = replace(known, state=state, updated_at=self._clock())
        await self.store.save_oadr2b_registration(updated)
        log.info("2.0b VEN %r is now %s", ven_name, state)
        return updated

    async def _approve(self, registration: Oadr2bRegistration) -> Oadr2bRegistration:
        ven_id = await self._ven_object(registration)
        approved = replace(
            registration,
            state="approved",
            ven_id=ven_id,
            registration_id=registration.registration_id or str(uuid.uuid4()),
            updated_at=self._clock(),
            delivered=None,  # a (re-)registered VEN gets its events again
        )
        await self.store.save_oadr2b_registration(approved)
        if registration.state != "approved":
            log.info("2.0b VEN %r approved as venID %s", registration.ven_name, ven_id)
        return approved

    async def _ven_object(self, registration: Oadr2bRegistration) -> str:
        """The 3.x ven object of this registration, created when missing."""
        if registration.ven_id is not None:
            stored = await self.vtn.stored("VEN", registration.ven_id)
            if stored is not None:
                return stored.id
        payload = {
            "objectType": "BL_VEN_REQUEST",
            "clientID": client_id_of(registration.ven_name),
            "venName": registration.ven_name,
            "attributes": [{"type": PROTOCOL_ATTRIBUTE, "values": [PROTOCOL_2B]}],
        }
        try:
            body = await self.vtn.create(FACE, "VEN", payload)
        except ApiError as exc:
            # A 3.x VEN already holds this name: the operator must rename one of them.
            raise Refused(463, f"cannot register {registration.ven_name!r}: {exc.detail}") from None
        return str(body["id"])

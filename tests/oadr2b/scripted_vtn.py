"""A scripted 2.0b VTN on loopback: answers each service from a queue, records what it got.

For the link's failure paths that openleadr's VTN cannot be made to show (malformed bodies,
another vtnID, an outage that answers 503)."""

from __future__ import annotations

import contextlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web
from lxml import etree
from openleadr.messaging import create_message

from tests.conftest import free_port

VEN_ID = "VEN_WH_1"
VTN_ID = "SCRIPTED_VTN"
OK = {"response_code": 200, "response_description": "OK", "request_id": None}


def registration_answer(poll: timedelta = timedelta(seconds=1)) -> bytes:
    return create_message(
        "oadrCreatedPartyRegistration",
        response=OK,
        registration_id="REG_1",
        ven_id=VEN_ID,
        vtn_id=VTN_ID,
        profiles=[{"profile_name": "2.0b", "transports": [{"transport_name": "simpleHttp"}]}],
        requested_oadr_poll_freq=poll,
    ).encode()


def empty_response() -> bytes:
    return create_message("oadrResponse", response=OK, ven_id=VEN_ID).encode()


def registered_report(granularity: timedelta, back: timedelta) -> bytes:
    requests = [
        {
            "report_request_id": f"rr-{specifier}",
            "report_specifier": {
                "report_specifier_id": specifier,
                "granularity": granularity,
                "report_back_duration": back,
                "specifier_payloads": [{"r_id": rid, "reading_type": "Direct Read"}],
            },
        }
        for specifier, rid in (("ven-edge-usage", "real-power"), ("ven-edge-status", "status"))
    ]
    return create_message(
        "oadrRegisteredReport", response=OK, ven_id=VEN_ID, report_requests=requests
    ).encode()


@dataclass
class ScriptedVtn:
    url: str = ""
    #: Answers per service, first in first out; an empty queue answers an empty oadrResponse.
    answers: dict[str, deque[bytes | int]] = field(default_factory=lambda: defaultdict(deque))
    received: list[tuple[str, str, bytes]] = field(default_factory=list)
    down: bool = False
    #: The name of a message after whose answer the VTN goes down (an outage at a set point).
    down_after: str | None = None

    def names(self, service: str | None = None) -> list[str]:
        return [name for s, name, _ in self.received if service is None or s == service]

    async def handle(self, request: web.Request) -> web.Response:
        service = request.match_info["service"]
        body = await request.read()
        if self.down:
            return web.Response(status=503)
        name = etree.QName(etree.fromstring(body)[-1][0]).localname
        self.received.append((service, name, body))
        if name == self.down_after:
            self.down = True  # this message still gets its answer, the next ones 503
        queue = self.answers[service]
        if service == "EiRegisterParty" and not queue:
            return _xml(registration_answer())
        answer = queue.popleft() if queue else empty_response()
        if isinstance(answer, int):
            return web.Response(status=answer)
        return _xml(answer)


def _xml(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/xml")


@contextlib.asynccontextmanager
async def scripted_vtn() -> AsyncIterator[ScriptedVtn]:
    vtn = ScriptedVtn()
    app = web.Application()
    app.router.add_post("/OpenADR2/Simple/2.0b/{service}", vtn.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    vtn.url = f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b"
    try:
        yield vtn
    finally:
        await runner.cleanup()

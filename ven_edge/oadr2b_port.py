"""The daemon's utility side in OpenADR 2.0b mode: :class:`Oadr2bGridPort` over the 2.0b link.

The same :class:`~ven_edge.ports.GridPort` seam as OpenADR 3 (:mod:`ven_edge.grid_port`): the
link hands the control core a :class:`~ven_edge.signals.SignalTimeline`, so the plan, the
commands and the status page behave as with OpenADR 3. The device's state arrives through
:meth:`Oadr2bGridPort.queue_reports` on plan time, as for OpenADR 3: it feeds the
TELEMETRY_USAGE and TELEMETRY_STATUS reports and turns a customer override into optOut.

Imported only when ``vtn.protocol = "2.0b"``: this module pulls in lxml.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from ven_edge.config import VtnConfig
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.oadr2b.engine import VenEngine
from ven_edge.oadr2b.link import Oadr2bLink
from ven_edge.oadr2b.registration import Registration, parse_created_party_registration
from ven_edge.oadr2b.reports import Sample
from ven_edge.oadr2b.tlsconf import client_context
from ven_edge.oadr2b.vtnhttp import ExchangeError, Signer, Verifier, VtnTransport
from ven_edge.ports import GridLabels
from ven_edge.signals import SignalTimeline
from ven_edge.status_model import VtnHealth
from ven_edge.store import StateStore

log = logging.getLogger(__name__)


class Oadr2bGridPort:
    """:class:`~ven_edge.ports.GridPort` over an :class:`Oadr2bLink`."""

    def __init__(self, link: Oadr2bLink, clock: Callable[[], datetime]) -> None:
        self.link = link
        self._clock = clock
        self._listener: Callable[[SignalTimeline], None] | None = None
        self._timeline = SignalTimeline()
        link.on_timeline = self._on_timeline

    def _on_timeline(self, timeline: SignalTimeline) -> None:
        self._timeline = timeline
        if self._listener is not None:
            self._listener(timeline)

    def set_listener(self, callback: Callable[[SignalTimeline], None]) -> None:
        self._listener = callback

    async def start(self) -> None:
        return None  # pull only: nothing to serve

    async def stop(self) -> None:
        await self.link.transport.close()

    async def run(self) -> None:
        await self.link.run()

    def queue_reports(self, device: DeviceSnapshot) -> None:
        power = None if device.power_w is None else float(device.power_w)
        sample = Sample(self._clock(), power, device.ready, device.opted_out)
        self.link.device_update(sample, device.opted_out)

    def labels(self) -> GridLabels:
        unit = next(
            (i.unit for i in self._timeline.intervals if i.kind == "PRICE" and i.unit), None
        )
        return GridLabels(program_names={}, price_unit=unit)

    def health(self) -> VtnHealth:
        h = self.link.health
        return VtnHealth(
            ok=h.connected,
            url=self.link.transport.base_url,
            ven_id=self.link.engine.ven_id,
            last_contact=h.last_success,
            last_error=h.last_error,
        )


def build_oadr2b_grid(
    vtn: VtnConfig, store: StateStore, clock: Callable[[], datetime], resource_name: str
) -> Oadr2bGridPort:
    """The 2.0b grid port of ``[vtn]`` (validated by :mod:`ven_edge.config`): mutual TLS,
    pinned VTN fingerprint and XML signatures over https; lab mode over plain http."""
    transport = vtn_transport(vtn, clock)
    engine = VenEngine(vtn.ven_name, resource_name, signed=transport.signs)
    link = Oadr2bLink(engine, transport, store=store, poll_s=vtn.poll_interval_s, wall_clock=clock)
    return Oadr2bGridPort(link, clock)


async def query_vtn(vtn: VtnConfig, clock: Callable[[], datetime]) -> Registration:
    """Ask the VTN what it is (oadrQueryRegistration), as the daemon's first request would:
    for ``ven-edge check``. Raises :class:`ExchangeError` or :class:`MessageError`."""
    transport = vtn_transport(vtn, clock)
    try:
        out = VenEngine(vtn.ven_name, "check").query_registration()
        answer = await transport.post(out.service, out.payload)
    finally:
        await transport.close()
    if answer is None:
        raise ExchangeError("the VTN gave an empty answer to oadrQueryRegistration")
    return parse_created_party_registration(answer.message)


def vtn_transport(vtn: VtnConfig, clock: Callable[[], datetime]) -> VtnTransport:
    """The transport of ``[vtn]``: TLS, pin and signatures over https, none in lab mode."""
    if vtn.url is None:
        raise ValueError("vtn.url is not set")
    opts = vtn.oadr2b
    secure = urlsplit(vtn.url).scheme == "https"
    signer: Signer | None = None
    verifier: Verifier | None = None
    context = None
    if secure:
        # ven_edge.config refuses https without all four (check_oadr2b).
        assert vtn.ca_file is not None
        assert opts.client_cert is not None
        assert opts.client_key is not None
        assert opts.vtn_fingerprint is not None
        context = client_context(
            vtn.ca_file, opts.client_cert, opts.client_key, opts.vtn_fingerprint
        )
        if opts.signatures:
            from ven_edge.oadr2b.xmlsig import MessageSigner, SignatureChecker

            signer = MessageSigner.from_files(opts.client_cert, opts.client_key, clock).sign
            verifier = SignatureChecker(opts.vtn_fingerprint, clock).verify
    else:
        log.warning("OpenADR 2.0b lab mode: plain http to %s, no TLS, no signatures", vtn.url)
    return VtnTransport(
        vtn.url,
        ssl_context=context,
        signer=signer,
        verifier=verifier,
        timeout_s=vtn.request_timeout_s,
    )

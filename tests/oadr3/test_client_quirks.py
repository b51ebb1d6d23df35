"""The client against a loopback peer that behaves like the real VTNs of reference §10.1.

vtn_lite is strict on output, so these quirks (no /auth/server, token without expires_in and with
a list scope, naive timestamps, ignored filters, a malformed event among good ones, oversized and
non-JSON bodies) are served by a small aiohttp peer written for the purpose.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import PayloadError, ResponseTooLargeError
from ven_edge.oadr3.vtnhttp import DEFAULT_TOKEN_LIFETIME_S, VtnSettings

from .loopback import serving

BASE = "/openadr3/3.1.0"


def quirky_event(ident: str, program: str = "p1", price: float = 0.2) -> dict[str, Any]:
    return {
        "id": ident,
        "programID": program,
        "createdDateTime": "12:22:12",  # quirk 3: time-only metadata
        "modificationDateTime": "2026-11-22 03:53:46",  # quirk 1: space, no zone
        "intervalPeriod": {"start": "2030-01-01 17:00:00", "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [price]}]}],
    }


@dataclass
class Peer:
    url: str = ""
    programs: list[Any] = field(
        default_factory=lambda: [
            {"id": "p1", "programName": "tou"},
            {"id": "p2", "programName": "other"},
        ]
    )
    events: Any = field(default_factory=list)
    raw_events: bytes | None = None
    limits: list[int] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    token_requests: int = 0


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer()

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        state.token_requests += 1
        if form.get("client_id") != "ven" or form.get("client_secret") != "pw":
            return web.json_response({"error": "invalid_client"}, status=401)
        # Quirk 7: scope as a list, no expires_in.
        return web.json_response(
            {"access_token": f"tok{state.token_requests}", "token_type": "Bearer", "scope": ["x"]}
        )

    def page(request: web.Request, items: list[Any]) -> web.Response:
        limit = int(request.query.get("limit", "50"))
        state.limits.append(limit)
        state.auth_headers.append(request.headers.get("Authorization", ""))
        if limit > 50:  # quirk 12
            return web.json_response({"title": "limit too large"}, status=400)
        skip = int(request.query.get("skip", "0"))
        return web.json_response(items[skip : skip + limit])

    async def programs(request: web.Request) -> web.Response:
        return page(request, state.programs)

    async def events(request: web.Request) -> web.Response:
        if state.raw_events is not None:
            return web.Response(body=state.raw_events, content_type="application/json")
        if not isinstance(state.events, list):
            return web.json_response(state.events)
        return page(request, state.events)  # quirk 11: programID filters are ignored

    app = web.Application()
    app.router.add_post(f"{BASE}/auth/token", token)  # no /auth/server: a 3.0.1-era peer
    app.router.add_get(f"{BASE}/programs", programs)
    app.router.add_get(f"{BASE}/events", events)
    async with serving(app) as url:
        state.url = url + BASE
        yield state


def settings(peer: Peer, **extra: Any) -> VtnSettings:
    return VtnSettings(base_url=peer.url, client_id="ven", client_secret="pw", **extra)


async def test_token_fallback_without_expires_in(peer: Peer) -> None:
    now = [0.0]
    async with VtnClient(settings(peer), clock=lambda: now[0]) as ven:
        await ven.fetch_programs()
        assert await ven.discover_token_url() == f"{peer.url}/auth/token"
        now[0] = DEFAULT_TOKEN_LIFETIME_S - 61  # default lifetime, refreshed a minute early
        await ven.fetch_programs()
        assert peer.token_requests == 1
        now[0] = DEFAULT_TOKEN_LIFETIME_S - 59
        await ven.fetch_programs()
    assert peer.token_requests == 2
    assert peer.auth_headers == ["Bearer tok1", "Bearer tok1", "Bearer tok2"]


async def test_quirky_events_pages_program_filter_and_bad_event(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    peer.events = [quirky_event(f"e{i}", program="p1" if i % 2 else "p2") for i in range(7)]
    async with VtnClient(settings(peer, page_size=3, program_names=("tou",))) as ven:
        first = await ven.poll_once()
        assert first.added == ("e1", "e3", "e5")  # p2's events ignored client-side
        assert set(peer.limits) == {3}
        (interval, *_) = ven.timeline.intervals
        assert interval.start.isoformat() == "2030-01-01T17:00:00+00:00"
        # A modified e3 arrives malformed: logged once with the path, the old e3 is kept.
        bad = dict(quirky_event("e3"), modificationDateTime="2026-11-23 00:00:00")
        bad["intervals"] = [{"id": 0, "payloads": [{"type": "PRICE", "values": ["NaN", None]}]}]
        peer.events[3] = bad
        with caplog.at_level(logging.ERROR, logger="ven_edge.oadr3.client"):
            second = await ven.poll_once()
            third = await ven.poll_once()
        assert not second.changed
        assert [e.where for e in second.errors] == ["intervals[0].payloads[0].values[1]"]
        assert len(third.errors) == 1
        logged = [r.getMessage() for r in caplog.records]
        assert len(logged) == 1
        assert "e3" in logged[0]
        assert "values[1]" in logged[0]
        assert {i.values for i in ven.timeline.intervals if i.event_id == "e3"} == {(0.2,)}


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
async def test_polled_event_losing_its_intervals_keeps_the_last_good_version(
    peer: Peer, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    peer.events = [quirky_event("e1", price=0.5)]
    async with VtnClient(settings(peer, version=version)) as ven:
        await ven.poll_once()
        good = ven.timeline
        peer.events = [dict(quirky_event("e1"), intervals=None)]  # JSON null: absent
        with caplog.at_level(logging.ERROR, logger="ven_edge.oadr3.client"):
            result = await ven.poll_once()
        assert not result.changed
        assert [e.where for e in result.errors] == ["intervals"]
        assert ven.timeline == good
        assert "intervals: missing or null" in caplog.text


async def test_unusable_responses_keep_the_last_good_timeline(peer: Peer) -> None:
    peer.events = [quirky_event("e1", price=0.5)]
    async with VtnClient(settings(peer, max_response_bytes=2048)) as ven:
        await ven.poll_once()
        good = ven.timeline
        peer.events = [quirky_event(f"x{i}") for i in range(40)]  # > 2 KiB
        with pytest.raises(ResponseTooLargeError, match="2048-byte limit"):
            await ven.poll_once()
        peer.events = {"events": []}
        with pytest.raises(PayloadError, match="not an array"):
            await ven.poll_once()
        peer.raw_events = b"[{"
        with pytest.raises(PayloadError, match="not JSON"):
            await ven.poll_once()
        assert ven.timeline is good
        assert list(ven.events) == ["e1"]


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="page_size"):
        VtnSettings(base_url="https://v/x", page_size=51)
    with pytest.raises(ValueError, match="together"):
        VtnSettings(base_url="https://v/x", client_id="a")
    with pytest.raises(ValueError, match="http"):
        VtnSettings(base_url="ftp://v/x")
    assert VtnSettings(base_url="https://v/x/").base_url == "https://v/x"

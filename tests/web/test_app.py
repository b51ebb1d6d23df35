"""The status web app over real HTTP on 127.0.0.1: routes, headers, long-poll, limits."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.web.snapshots import ZONE, FakeProvider, make_snapshot, saving_snapshot
from ven_edge.web.app import (
    CONTENT_SECURITY_POLICY,
    DEBIAN_CHARTJS,
    NPM_CHARTJS,
    STATIC_DIR,
    VERSION_HEADER,
    StatusNotifier,
    create_app,
    find_chartjs,
    start_web,
)

Served = tuple[str, FakeProvider, web.AppRunner]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., object]]:
    runners: list[web.AppRunner] = []

    async def _serve(
        *, notifier: StatusNotifier | None = None, chartjs_path: Path | None = None
    ) -> Served:
        provider = FakeProvider(make_snapshot(), notifier)
        app = create_app(provider, notifier=notifier, chartjs_path=chartjs_path, tz=ZONE)
        runner, _site = await start_web(app, "127.0.0.1", 0)
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}", provider, runner

    yield _serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def test_api_status_serves_the_snapshot(serve, http: aiohttp.ClientSession) -> None:
    base, provider, _ = await serve()
    async with http.get(base + "/api/status") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert resp.headers["Cache-Control"] == "no-store"
        assert VERSION_HEADER not in resp.headers  # no notifier: the page polls
        body = await resp.json()
        text = await resp.text()
    assert body == provider.snapshot.as_json(ZONE)
    assert body["generated_at"] == "2026-01-14T16:30:00-07:00"
    assert body["health"]["vtn"]["url"] == "https://vtn.example-utility.com/openadr3/3.1.0"
    assert "s3cret" not in text
    assert "token=abc" not in text

    provider.snapshot = saving_snapshot()
    async with http.get(base + "/api/status") as resp:
        body = await resp.json()
    assert body["heater"]["state_text"] == "Saving energy: utility event until 19:00"


async def test_security_headers_everywhere(serve, http: aiohttp.ClientSession) -> None:
    base, _, _ = await serve()
    for path in ("/", "/api/status", "/static/app.js", "/static/style.css", "/nothing-here"):
        async with http.get(base + path) as resp:
            assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
            assert resp.headers["X-Content-Type-Options"] == "nosniff", path
            assert resp.headers["Referrer-Policy"] == "no-referrer", path
            assert resp.headers["X-Frame-Options"] == "DENY", path
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


async def test_page_and_assets(serve, http: aiohttp.ClientSession) -> None:
    base, _, _ = await serve()
    async with http.get(base + "/") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        html = await resp.text()
    assert 'src="/static/vendor/chart.js"' in html
    assert 'src="/static/app.js"' in html
    async with http.get(base + "/static/app.js") as resp:
        assert resp.status == 200
        assert "javascript" in resp.content_type
        assert "/api/status" in await resp.text()
    async with http.get(base + "/static/style.css") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/css"
        assert resp.headers["Cache-Control"] == "no-cache"


def test_page_has_no_inline_script_style_or_external_url() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None  # nothing between script tags
    assert " style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC_DIR / name).read_text()
        assert re.search(r"https?://", text) is None, name
        assert "innerHTML" not in text, name


async def test_chartjs_served_from_configured_path(
    serve, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    fake_lib = tmp_path / "chart.min.js"
    fake_lib.write_text("window.Chart = function () {};\n")
    base, _, _ = await serve(chartjs_path=fake_lib)
    async with http.get(base + "/static/vendor/chart.js") as resp:
        assert resp.status == 200
        assert "javascript" in resp.content_type
        assert await resp.text() == "window.Chart = function () {};\n"


async def test_chartjs_missing_gives_clear_404(
    serve, http: aiohttp.ClientSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base, _, _ = await serve(chartjs_path=tmp_path / "absent.js")
    assert "Chart.js not found" in caplog.text
    async with http.get(base + "/static/vendor/chart.js") as resp:
        assert resp.status == 404
        assert "libjs-chart.js" in await resp.text()
    async with http.get(base + "/api/status") as resp:  # the rest still works
        assert resp.status == 200


def test_find_chartjs_order(tmp_path: Path) -> None:
    configured = tmp_path / "chart.js"
    assert find_chartjs(configured) is None
    configured.write_text("x")
    assert find_chartjs(configured) == configured
    default = find_chartjs()
    expected = next((p for p in (DEBIAN_CHARTJS, NPM_CHARTJS) if p.is_file()), None)
    assert default == expected


async def test_read_only_and_size_limits(serve, http: aiohttp.ClientSession) -> None:
    base, provider, _ = await serve()
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        async with http.request(method, base + "/api/status", data=b"{}") as resp:
            assert resp.status == 405, method
    async with http.get(base + "/api/status", headers={"X-Big": "x" * 10_000}) as resp:
        assert resp.status in (400, 431)
    async with http.get(base + "/static/../app.py") as resp:
        assert resp.status in (403, 404)
    async with http.get(base + "/static/%2e%2e/app.py") as resp:
        assert resp.status in (403, 404)
    assert provider.snapshot == make_snapshot()  # nothing changed it


async def test_provider_failure_gives_503_then_recovers(
    serve, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    base, provider, _ = await serve()
    provider.fail = True
    async with http.get(base + "/api/status") as resp:
        assert resp.status == 503
        assert await resp.json() == {"error": "status unavailable"}
    assert "status provider failed" in caplog.text
    provider.fail = False
    async with http.get(base + "/api/status") as resp:
        assert resp.status == 200


async def test_long_poll_returns_on_change(serve, http: aiohttp.ClientSession) -> None:
    notifier = StatusNotifier()
    base, provider, _ = await serve(notifier=notifier)
    async with http.get(base + "/api/status") as resp:
        version = resp.headers[VERSION_HEADER]
        assert (await resp.json())["heater"]["mode"] == "normal"

    async def long_poll() -> tuple[str, dict[str, object]]:
        async with http.get(f"{base}/api/status?since={version}&wait=20") as resp:
            return resp.headers[VERSION_HEADER], await resp.json()

    waiter = asyncio.create_task(long_poll())
    # Let the request reach the server and start waiting: it must not return on its own.
    done, _ = await asyncio.wait({waiter}, timeout=0.3)
    assert not done
    provider.set(saving_snapshot())
    # Answered by the change, not by the 20 s wait (no wall-clock bound: a loaded machine).
    new_version, body = await asyncio.wait_for(waiter, timeout=15)
    assert int(new_version) == int(version) + 1
    heater = body["heater"]
    assert isinstance(heater, dict)
    assert heater["state_text"] == "Saving energy: utility event until 19:00"


async def test_long_poll_times_out_with_same_version(serve, http: aiohttp.ClientSession) -> None:
    notifier = StatusNotifier()
    notifier.notify()
    base, _, _ = await serve(notifier=notifier)
    started = time.monotonic()
    async with asyncio.timeout(15), http.get(f"{base}/api/status?since=1&wait=0.2") as resp:
        assert resp.status == 200
        assert resp.headers[VERSION_HEADER] == "1"
    assert time.monotonic() - started > 0.15  # it waited (a lower bound holds under load)
    # A version from before a restart answers at once, not after the 20 s wait.
    async with asyncio.timeout(15), http.get(f"{base}/api/status?since=99&wait=20") as resp:
        assert resp.headers[VERSION_HEADER] == "1"


@pytest.mark.parametrize(
    "query", ["since=abc", "since=1&wait=-1", "since=1&wait=nan", "since=1&wait=soon"]
)
async def test_long_poll_bad_parameters(serve, http: aiohttp.ClientSession, query: str) -> None:
    base, _, _ = await serve(notifier=StatusNotifier())
    async with http.get(f"{base}/api/status?{query}") as resp:
        assert resp.status == 400
        assert "error" in await resp.json()


async def test_shutdown_releases_long_polls(serve, http: aiohttp.ClientSession) -> None:
    notifier = StatusNotifier()
    base, _, runner = await serve(notifier=notifier)

    async def long_poll() -> int:
        async with http.get(f"{base}/api/status?since=0&wait=30") as resp:
            return resp.status

    waiter = asyncio.create_task(long_poll())
    done, _ = await asyncio.wait({waiter}, timeout=0.3)
    assert not done
    # Released by the shutdown, not by the 30 s wait.
    async with asyncio.timeout(20):
        await runner.cleanup()
        assert await waiter == 200


async def test_start_web_port_in_use_cleans_up() -> None:
    app = create_app(FakeProvider(make_snapshot()))
    runner, _ = await start_web(app, "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        with pytest.raises(OSError, match="in use"):
            await start_web(create_app(FakeProvider(make_snapshot())), "127.0.0.1", port)
    finally:
        await runner.cleanup()

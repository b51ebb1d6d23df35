"""The status page's aiohttp application: ``GET /``, ``GET /api/status`` and ``/static/``.

Read-only by design: no route changes anything. The daemon owns the state and hands the app a
zero-argument ``provider`` that returns the current :class:`~ven_edge.web.status.StatusSnapshot`;
optionally a :class:`StatusNotifier` it bumps on every change, which lets the page long-poll
(``GET /api/status?since=<version>&wait=<seconds>``) instead of polling every few seconds.

The chart library is not part of the repository: Chart.js comes from Debian's ``libjs-chart.js``
(``/usr/share/javascript/chart.js/``), or from npm into a git-ignored folder (docs/status-api.md,
"Chart library"), and is served at ``/static/vendor/chart.js``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Final

from aiohttp import web

from ven_edge.web.status import StatusSnapshot

log = logging.getLogger(__name__)

StatusProvider = Callable[[], StatusSnapshot]

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
# Debian bookworm and trixie: libjs-chart.js 3.9.1 (UMD build, defines the global ``Chart``).
DEBIAN_CHARTJS: Final = Path("/usr/share/javascript/chart.js/chart.min.js")
# Development fallback: `npm install --prefix ven_edge/web/vendor chart.js@3.9.1` (git-ignored).
NPM_CHARTJS: Final = (
    Path(__file__).resolve().parent / "vendor/node_modules/chart.js/dist/chart.min.js"
)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8080
# Longest long-poll the server holds open; the page asks for less.
MAX_WAIT_S: Final = 30.0
# The page sends no bodies: anything bigger than this is refused before it is read.
CLIENT_MAX_SIZE: Final = 1024
MAX_LINE_SIZE: Final = 4096
MAX_FIELD_SIZE: Final = 4096

# No inline script or style: everything comes from this origin's static files (the page makes
# no external request and works on a LAN without internet).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
VERSION_HEADER: Final = "X-Status-Version"
# How often the page polls when it cannot long-poll, and retries after a failure.
POLL_HEADER: Final = "X-Poll-Interval"
DEFAULT_POLL_INTERVAL_S: Final = 5.0


class StatusNotifier:
    """A change counter for the snapshot: the daemon calls :meth:`notify` after each change.

    Waiters do not poll: each waits on the event that the next :meth:`notify` sets and replaces.
    """

    def __init__(self) -> None:
        self._version = 0
        self._changed = asyncio.Event()

    @property
    def version(self) -> int:
        return self._version

    def notify(self) -> None:
        """The snapshot changed: wake every waiter. Call it from the event loop's thread."""
        self._version += 1
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def wake_all(self) -> None:
        """Release every waiter without a change (used when the server shuts down)."""
        self._wake()

    async def wait_newer(self, since: int, max_wait_s: float) -> int:
        """Wait until the version differs from ``since`` (at most ``max_wait_s``); return it.

        A ``since`` from before a restart (larger than the version) returns at once.
        """
        if self._version != since:
            return self._version
        changed = self._changed
        try:
            async with asyncio.timeout(max_wait_s):
                await changed.wait()
        except TimeoutError:
            pass
        return self._version


class _BodyCache:
    """The last snapshot's JSON body: snapshots are frozen, so the same object encodes the same.

    Several open pages (and each long-poll wake-up) then cost one encoding per change, not one
    per request (bench/web.py).
    """

    def __init__(self, tz: tzinfo | None) -> None:
        self._tz = tz
        self._snapshot: StatusSnapshot | None = None
        self._body = b""

    def body(self, snapshot: StatusSnapshot) -> bytes:
        if snapshot is not self._snapshot:
            self._body = json.dumps(snapshot.as_json(self._tz)).encode()
            self._snapshot = snapshot
        return self._body


PROVIDER: Final[web.AppKey[StatusProvider]] = web.AppKey("provider")
BODY_CACHE: Final = web.AppKey("body_cache", _BodyCache)
NOTIFIER: Final = web.AppKey("notifier", StatusNotifier)
CLOSING: Final = web.AppKey("closing", asyncio.Event)
POLL_INTERVAL: Final = web.AppKey("poll_interval", float)
CHARTJS: Final = web.AppKey("chartjs", Path)
INDEX_HTML: Final = web.AppKey("index_html", bytes)


def find_chartjs(configured: Path | None = None) -> Path | None:
    """The Chart.js file to serve: ``configured`` if given, else Debian's, else the npm copy."""
    candidates = [configured] if configured is not None else [DEBIAN_CHARTJS, NPM_CHARTJS]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _wait_params(request: web.Request) -> tuple[int, float] | web.Response:
    try:
        since = int(request.query["since"])
    except ValueError:
        return _error(400, "since must be the integer from the X-Status-Version header")
    try:
        wait = float(request.query.get("wait", "25"))
    except ValueError:
        return _error(400, f"wait must be a number of seconds, 0 to {MAX_WAIT_S:g}")
    if not math.isfinite(wait) or wait < 0:
        return _error(400, f"wait must be a number of seconds, 0 to {MAX_WAIT_S:g}")
    return since, min(wait, MAX_WAIT_S)


async def _api_status(request: web.Request) -> web.Response:
    app = request.app
    notifier = app.get(NOTIFIER)
    headers = {"Cache-Control": "no-store", POLL_HEADER: f"{app[POLL_INTERVAL]:g}"}
    closing = app[CLOSING].is_set()
    if closing:
        # Shutting down: answer at once and let the page reconnect to the next server.
        headers["Connection"] = "close"
    if notifier is not None:
        if "since" in request.query:
            params = _wait_params(request)
            if isinstance(params, web.Response):
                return params
            if not closing:
                await notifier.wait_newer(*params)
        # Read the version before the snapshot: a change in between makes the next long-poll
        # return at once rather than being missed.
        headers[VERSION_HEADER] = str(notifier.version)
    try:
        body = app[BODY_CACHE].body(app[PROVIDER]())
    except Exception:
        # The page keeps showing its last good data and says it is stale.
        log.exception("status provider failed")
        return _error(503, "status unavailable")
    return web.Response(body=body, content_type="application/json", headers=headers)


async def _index(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[INDEX_HTML],
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def _chartjs(request: web.Request) -> web.StreamResponse:
    path = request.app.get(CHARTJS)
    if path is None:
        return web.Response(
            status=404,
            text="Chart.js is not installed: apt-get install libjs-chart.js (docs/status-api.md)",
        )
    return web.FileResponse(path, headers={"Cache-Control": "max-age=86400"})


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/static/"):
        # Revalidate (cheap, by ETag/Last-Modified) so that an upgraded gateway's page and API
        # never meet an old cached script.
        response.headers.setdefault("Cache-Control", "no-cache")


async def _release_waiters(app: web.Application) -> None:
    app[CLOSING].set()
    notifier = app.get(NOTIFIER)
    if notifier is not None:
        notifier.wake_all()


def create_app(
    provider: StatusProvider,
    *,
    notifier: StatusNotifier | None = None,
    chartjs_path: Path | None = None,
    tz: tzinfo | None = None,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
) -> web.Application:
    """The read-only status web app.

    ``provider`` returns the current snapshot; it is called once per ``/api/status`` request, in
    the event loop, so it must be quick (return a prepared snapshot). ``notifier`` enables
    long-polling. ``chartjs_path`` overrides where Chart.js is read from (default: Debian's
    package, then the npm copy). ``tz`` is the zone of the times in the JSON (default: the
    gateway's local zone). ``poll_interval_s`` is how often the page polls without long-poll.
    """
    if not (math.isfinite(poll_interval_s) and poll_interval_s > 0):
        raise ValueError(f"poll_interval_s must be a positive number, got {poll_interval_s}")
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    app[PROVIDER] = provider
    app[POLL_INTERVAL] = poll_interval_s
    app[CLOSING] = asyncio.Event()
    if notifier is not None:
        app[NOTIFIER] = notifier
    app[BODY_CACHE] = _BodyCache(tz)
    chartjs = find_chartjs(chartjs_path)
    if chartjs is None:
        log.warning(
            "Chart.js not found (%s): the page shows the plan as a list only; "
            "install libjs-chart.js",
            chartjs_path or f"{DEBIAN_CHARTJS}, {NPM_CHARTJS}",
        )
    else:
        app[CHARTJS] = chartjs
    app[INDEX_HTML] = (STATIC_DIR / "index.html").read_bytes()

    app.router.add_get("/", _index)
    app.router.add_get("/api/status", _api_status)
    # Registered before the static folder so that it wins over /static/.
    app.router.add_get("/static/vendor/chart.js", _chartjs)
    app.router.add_static("/static", STATIC_DIR, follow_symlinks=False, show_index=False)
    app.on_response_prepare.append(_add_headers)
    app.on_shutdown.append(_release_waiters)
    return app


async def start_web(
    app: web.Application,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    access_log: bool = False,
    shutdown_timeout: float = 5.0,
) -> tuple[web.AppRunner, web.TCPSite]:
    """Serve ``app`` on ``host:port`` next to the caller's other tasks.

    Stop it with ``await runner.cleanup()``. The access log is off by default: an open page polls
    every few seconds and would fill the journal. ``port=0`` picks a free port
    (``runner.addresses``).
    """
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        shutdown_timeout=shutdown_timeout,
        max_line_size=MAX_LINE_SIZE,
        max_field_size=MAX_FIELD_SIZE,
        # No lingering close: a body sent with a request is not read on for seconds after the
        # answer (aiohttp's default 10 s swallows whatever a sender streams meanwhile).
        lingering_time=0.0,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info(
        "status page on http://%s:%d/",
        f"[{host}]" if ":" in host else host,
        runner.addresses[0][1],
    )
    return runner, site

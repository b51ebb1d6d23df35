"""The console's shared state: users, sessions, login delays, check-ins and the VEN directory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

from aiohttp import web

from vtn_lite.console.checkins import CheckinTracker
from vtn_lite.console.directory import VenDirectory
from vtn_lite.console.sessions import Sessions
from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.console.throttle import LoginThrottle
from vtn_lite.console.users import UserDirectory
from vtn_lite.oadr2b.registry import Registry
from vtn_lite.service import Vtn

log = logging.getLogger(__name__)


class Console:
    """The console's state, shared by its handlers."""

    def __init__(
        self,
        vtn: Vtn,
        settings: ConsoleSettings,
        *,
        clock: Callable[[], float],
        secure_cookies: bool,
    ) -> None:
        self.vtn = vtn
        self.settings = settings
        self.clock = clock
        self.secure_cookies = secure_cookies
        path = Path(settings.users_file) if settings.users_file and not settings.users else None
        self.users = UserDirectory(path, settings.users)
        self.sessions = Sessions(idle=settings.session_idle)
        self.throttle = LoginThrottle()
        self.tracker = CheckinTracker(
            window=settings.window,
            default_interval=settings.default_interval,
            merge_s=settings.checkin_merge,
        )
        self.directory = VenDirectory()
        vtn.listeners.append(self.directory.on_change)
        self.stopping = asyncio.Event()
        self.oadr2b: Registry | None = None  # set when the 2.0b face runs (its page)

    async def load(self) -> None:
        """Read the vens, reports and check-ins once the storage is open, before serving."""
        vens = await self.vtn.operator_objects("VEN")
        reports = await self.vtn.operator_objects("REPORT")
        self.directory.seed(vens, reports)
        self.tracker.load(await self.vtn.load_checkins())

    async def load_oadr2b_reports(self, limit: int = 5000) -> None:
        """The last values 2.0b VENs reported (kept by the 2.0b face, not as 3.x reports)."""
        records = await self.vtn.store.oadr2b_records("report", limit=limit)
        names = {ven.id: ven.client_id for ven in self.directory.vens.values()}
        for record in reversed(records):  # oldest first, so the newest value stays
            client_id = names.get(record.ven_id)
            if client_id is not None:
                self.directory.put_points(client_id, list(record.body.get("points", [])))

    def checked_in(self, client_id: str) -> None:
        self.tracker.seen(client_id, self.clock())

    async def flush_checkins(self) -> None:
        rows = self.tracker.take_dirty()
        if rows:
            await self.vtn.save_checkins(rows)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_interval)
            try:
                await self.flush_checkins()
            except Exception:
                log.exception("could not store check-ins; keeping them in memory")

    @property
    def revision(self) -> int:
        return self.directory.revision + self.tracker.revision


CONSOLE_KEY: Final = web.AppKey("console", Console)

"""Console sessions in memory: a random cookie value maps to the user, a CSRF token and expiry.

The cookie holds only the random session id (HttpOnly, SameSite=Strict, Secure under TLS);
the server keeps its SHA-256, so a memory dump shows no usable cookie. Sessions end after
``idle`` seconds without a request or ``absolute`` seconds after login; a restart ends them all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from vtn_lite.console.users import ConsoleRole

COOKIE: Final = "vtn_console"
LOGIN_COOKIE: Final = "vtn_console_login"
_MAX_SESSIONS: Final = 10_000


@dataclass(slots=True)
class Session:
    user: str
    role: ConsoleRole
    csrf: str
    created: float
    seen: float

    @property
    def may_dispatch(self) -> bool:
        return self.role == "dispatcher"

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, *, idle: float = 1800.0, absolute: float = 12 * 3600.0) -> None:
        self.idle = idle
        self.absolute = absolute
        self._sessions: dict[str, Session] = {}

    def open(self, user: str, role: ConsoleRole, now: float) -> str:
        if len(self._sessions) >= _MAX_SESSIONS:
            self._purge(now)
            if len(self._sessions) >= _MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].seen)
                del self._sessions[oldest]
        session_id = secrets.token_urlsafe(32)
        self._sessions[_key(session_id)] = Session(user, role, secrets.token_urlsafe(24), now, now)
        return session_id

    def get(self, session_id: str | None, now: float) -> Session | None:
        if not session_id:
            return None
        key = _key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        if now - session.seen > self.idle or now - session.created > self.absolute:
            del self._sessions[key]
            return None
        session.seen = now
        return session

    def alive(self, session_id: str | None, now: float) -> bool:
        """Whether the session still holds, without counting this as activity (the live
        stream asks each second; only requests a person makes keep a session)."""
        session = self._sessions.get(_key(session_id)) if session_id else None
        if session is None:
            return False
        return now - session.seen <= self.idle and now - session.created <= self.absolute

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_key(session_id), None)

    def end_user(self, user: str) -> None:
        """Sessions of a user removed from the users file end at their next request."""
        for key in [k for k, s in self._sessions.items() if s.user == user]:
            del self._sessions[key]

    def _purge(self, now: float) -> None:
        for key in [
            k
            for k, s in self._sessions.items()
            if now - s.seen > self.idle or now - s.created > self.absolute
        ]:
            del self._sessions[key]

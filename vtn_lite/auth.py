"""Client credentials, scopes and bearer tokens (Definition "OAuth 2.0 client credential flow").

Secrets are stored as scrypt hashes (RFC 7914); tokens are random, kept only as SHA-256 hashes
and expire after ``token_lifetime`` seconds. The clock is injected so tests need not sleep.
Tokens live in the storage, so a token issued by one worker is accepted by every other
(docs/vtn-lite.md "Several workers"); each worker caches the ones it has seen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vtn_lite.config import ClientEntry, Role
from vtn_lite.storage import Storage

# Scopes of the 3.1.0 YAML (securitySchemes.oAuth2ClientCredentials) plus read_bl, which the
# YAML uses on BL-only notifier topics without declaring it (docs/openadr3.md §1.2).
BL_SCOPES = frozenset(
    {
        "read_all",
        "read_bl",
        "read_targets",
        "read_ven_objects",
        "write_programs",
        "write_events",
        "write_subscriptions",
        "write_vens",
    }
)
VEN_SCOPES = frozenset(
    {
        "read_all",
        "read_targets",
        "read_ven_objects",
        "write_reports",
        "write_subscriptions",
        "write_vens",
    }
)
ROLE_SCOPES: dict[Role, frozenset[str]] = {"bl": BL_SCOPES, "ven": VEN_SCOPES}

# scrypt cost (RFC 7914 §2): N=2**14, r=8, p=1 takes ~50 ms and 16 MiB, the interactive setting
# recommended by the scrypt paper.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_PURGE_AT = 10_000


def hash_secret(secret: str, *, n: int = _SCRYPT_N) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=64 * 1024 * 1024
    )
    return "$".join(
        (
            "scrypt",
            str(n),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        )
    )


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the clientID from the token and the role's scopes."""

    client_id: str
    role: Role

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[self.role]

    @property
    def is_bl(self) -> bool:
        return self.role == "bl"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


class Authenticator:
    """Checks client credentials and issues/validates expiring bearer tokens."""

    def __init__(
        self,
        clients: Iterable[ClientEntry],
        store: Storage,
        *,
        lifetime: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = {client.client_id: client for client in clients}
        self._store = store
        self._lifetime = lifetime
        self._clock = clock
        self._tokens: dict[str, tuple[Principal, float]] = {}
        costs = [_scrypt_cost(client.secret_hash) for client in self._clients.values()]
        cost = max((c for c in costs if c is not None), default=_SCRYPT_N)
        self._decoy_hash = hash_secret(secrets.token_urlsafe(16), n=cost)

    async def load(self) -> None:
        """Tokens issued before a restart stay valid until they expire."""
        for token_hash, client_id, role, expires in await self._store.load_tokens(self._clock()):
            principal = self._principal_for(client_id, role)
            if principal is not None:
                self._tokens[token_hash] = (principal, expires)

    def set_clients(self, clients: Iterable[ClientEntry]) -> None:
        """Serve this client list from now on (the configuration file was re-read): a removed
        client, or one given another role, gets no new token and loses those it holds."""
        self._clients = {client.client_id: client for client in clients}
        self._tokens = {
            token_hash: (principal, expires)
            for token_hash, (principal, expires) in self._tokens.items()
            if self._principal_for(principal.client_id, principal.role) is not None
        }

    def _principal_for(self, client_id: str, role: str) -> Principal | None:
        # A client removed from the configuration, or given another role, loses its tokens.
        client = self._clients.get(client_id)
        if client is None or client.role != role:
            return None
        return Principal(client_id, client.role)

    def now(self) -> float:
        return self._clock()

    def check_secret(self, client_id: str, secret: str) -> ClientEntry | None:
        """The client if the secret matches; pure and slow (scrypt), so callable off the loop."""
        client = self._clients.get(client_id)
        if client is None:
            # Same work as for a known client, so the answer time does not tell which ids exist.
            verify_secret(secret, self._decoy_hash)
            return None
        return client if verify_secret(secret, client.secret_hash) else None

    async def issue_for(self, client: ClientEntry) -> IssuedToken:
        now = self._clock()
        if len(self._tokens) >= _PURGE_AT:
            # Clients fetch a new token per lifetime; forget the expired ones now and then.
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            await self._store.purge_tokens(now)
        token = secrets.token_urlsafe(32)
        expires = now + self._lifetime
        token_hash = _token_hash(token)
        self._tokens[token_hash] = (Principal(client.client_id, client.role), expires)
        await self._store.save_token(token_hash, client.client_id, client.role, expires)
        return IssuedToken(token, self._lifetime, " ".join(sorted(ROLE_SCOPES[client.role])))

    async def issue(self, client_id: str, secret: str) -> IssuedToken | None:
        client = self.check_secret(client_id, secret)
        return None if client is None else await self.issue_for(client)

    async def principal(self, token: str) -> Principal | None:
        token_hash = _token_hash(token)
        entry = self._tokens.get(token_hash)
        if entry is None:
            # Perhaps issued by another worker sharing the storage.
            found = await self._store.find_token(token_hash)
            if found is None:
                return None
            client_id, role, expires = found
            principal = self._principal_for(client_id, role)
            if principal is None:
                return None
            entry = (principal, expires)
            if self._clock() < expires:
                self._tokens[token_hash] = entry
        principal, expires = entry
        if self._clock() >= expires:
            self._tokens.pop(token_hash, None)
            return None
        return principal


def _scrypt_cost(stored: str) -> int | None:
    parts = stored.split("$")
    if len(parts) == 6 and parts[0] == "scrypt" and parts[1].isdigit():
        return int(parts[1])
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

"""Brute-force protection on POST /auth/token: limits, Retry-After, memory bound, config."""

from __future__ import annotations

import aiohttp
import pytest

from tests.vtn_lite.conftest import CLIENTS, make_config
from vtn_lite.config import ConfigError, parse_config
from vtn_lite.ratelimit import AuthLimits, AuthRateLimiter
from vtn_lite.server import running_vtn

OFF = {"rate_per_address": 0.0, "max_failures_per_address": 0, "max_failures_per_client": 0}


def _limiter(**limits: float) -> AuthRateLimiter:
    return AuthRateLimiter(AuthLimits(**{**OFF, **limits}))  # type: ignore[arg-type]


def test_failures_per_client_lock_until_the_oldest_leaves_the_window() -> None:
    limiter = _limiter(max_failures_per_client=3, window=60.0)
    for second in (0.0, 10.0, 20.0):
        assert limiter.admit("10.0.0.1", "ven", second) is None
        limiter.failed("10.0.0.1", "ven", second)
    refusal = limiter.admit("10.0.0.9", "ven", 30.0)  # another address does not help
    assert refusal is not None
    assert refusal.retry_after == 30  # the failure at 0 s leaves the window at 60 s
    assert "ven" in refusal.reason
    assert limiter.admit("10.0.0.1", "other", 30.0) is None  # other clients unaffected
    assert limiter.admit("10.0.0.1", "ven", 59.5) is not None
    assert limiter.admit("10.0.0.1", "ven", 60.0) is None


def test_success_forgives_the_clients_earlier_failures() -> None:
    limiter = _limiter(max_failures_per_client=2)
    limiter.failed("a", "ven", 0.0)
    limiter.succeeded("ven")
    limiter.failed("a", "ven", 1.0)
    assert limiter.admit("a", "ven", 2.0) is None


def test_failures_per_address_across_client_ids() -> None:
    limiter = _limiter(max_failures_per_address=5, window=100.0)
    for n in range(5):
        limiter.failed("192.0.2.7", f"guess-{n}", float(n))
    refusal = limiter.admit("192.0.2.7", "bl_client", 10.0)
    assert refusal is not None
    assert refusal.retry_after == 90
    assert limiter.admit("192.0.2.8", "bl_client", 10.0) is None


def test_request_bucket_per_address() -> None:
    limiter = _limiter(rate_per_address=2.0, burst_per_address=3)
    assert [limiter.admit("a", "c", 0.0) for _ in range(3)] == [None] * 3
    refusal = limiter.admit("a", "c", 0.0)
    assert refusal is not None
    assert refusal.retry_after == 1
    assert limiter.admit("b", "c", 0.0) is None
    assert limiter.admit("a", "c", 0.5) is None  # refilled one token at 2/s
    assert limiter.admit("a", "c", 0.5) is not None


def test_memory_is_bounded() -> None:
    limiter = AuthRateLimiter(AuthLimits(max_keys=4))
    for n in range(1000):
        limiter.admit(f"addr-{n}", f"client-{n}", float(n))
        limiter.failed(f"addr-{n}", f"client-{n}", float(n))
    assert limiter.tracked_keys() <= 3 * 4


def test_defaults_and_config_keys() -> None:
    defaults = parse_config({}).auth_limits
    assert defaults == AuthLimits()
    # The benchmark's 100 clients fetching tokens at once from one address fit the burst.
    assert defaults.burst_per_address >= 100
    config = parse_config(
        {"server": {"auth_window": 30, "auth_max_failures_per_client": 0, "auth_tracked_keys": 9}}
    )
    assert config.auth_limits == AuthLimits(window=30, max_failures_per_client=0, max_keys=9)
    for bad in (
        {"auth_window": -1},
        {"auth_max_failures_per_client": 1.5},
        {"auth_rate_per_address": True},
        {"auth_tracked_keys": 0},
    ):
        with pytest.raises(ConfigError, match="auth_"):
            parse_config({"server": bad})


async def test_token_endpoint_answers_429_with_retry_after() -> None:
    now = [1_000_000.0]
    limits = AuthLimits(max_failures_per_client=3, window=120.0)
    async with (
        running_vtn(make_config(auth_limits=limits), clock=lambda: now[0]) as server,
        aiohttp.ClientSession() as session,
    ):

        async def token(who: str, secret: str | None = None) -> aiohttp.ClientResponse:
            cid, right, _ = CLIENTS[who]
            form = {"grant_type": "client_credentials", "client_id": cid}
            form["client_secret"] = right if secret is None else secret
            async with session.post(f"{server.base_url}/auth/token", data=form) as response:
                await response.read()
                return response

        for _ in range(3):
            assert (await token("ven", "wrong")).status == 401
        now[0] += 20
        locked = await token("ven")  # even the right secret waits
        assert locked.status == 429
        assert locked.headers["Retry-After"] == "100"
        assert locked.content_type == "application/json"
        async with session.post(
            f"{server.base_url_301}/auth/token",
            data={"client_id": "ven_client", "client_secret": "999"},
        ) as response:
            problem = await response.json(content_type=None)
            assert response.status == 429  # both versions share the limiter
            assert problem["status"] == 429
            assert "ven_client" in problem["detail"]
        assert (await token("bl")).status == 200
        now[0] += 100
        assert (await token("ven")).status == 200

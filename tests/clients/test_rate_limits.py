"""Rate limits: headers on every limited response, 429 past the budget, a Redis budget shared
by two app instances."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import APIRouter

from app.api.deps import CurrentPrincipal
from app.api.main import limited
from app.core import rate_limit as rate_limit_core
from tests.clients.apps import app_client, app_instance
from tests.conftest import make_settings, token_headers

if TYPE_CHECKING:
    from tests.conftest import TestUser

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_limited_routes_carry_rate_limit_headers(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    first = await client.get("/api/v1/users/me", headers=user.headers)
    second = await client.get("/api/v1/users/me", headers=user.headers)
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "600"
    assert int(first.headers["X-RateLimit-Remaining"]) == 599
    assert int(second.headers["X-RateLimit-Remaining"]) == 598
    assert 0 <= int(first.headers["X-RateLimit-Reset"]) <= 60
    # Error responses of a limited route carry them too.
    missing = await client.get(f"/api/v1/organizations/{uuid.uuid4()}", headers=user.headers)
    assert missing.status_code in (403, 404)
    assert missing.headers["X-RateLimit-Remaining"] == "597"
    # Unlimited routes do not.
    health = await client.get("/api/v1/utils/health-check/")
    assert "X-RateLimit-Limit" not in health.headers


async def test_budget_is_per_account_and_429_past_it(
    database_url: str, app: Any, make_user: Any, client: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(), await make_user()
    async with app_client(database_url, RATE_LIMITS={"default": "3/minute"}) as limited:
        for expected in (2, 1, 0):
            r = await limited.get("/api/v1/users/me", headers=alice.headers)
            assert r.status_code == 200
            assert r.headers["X-RateLimit-Remaining"] == str(expected)
        refused = await limited.get("/api/v1/users/me", headers=alice.headers)
        assert refused.status_code == 429
        assert "Rate limit exceeded" in refused.json()["detail"]
        assert refused.headers["X-RateLimit-Limit"] == "3"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Another user has a budget of their own; the same user's API keys do not (minting
        # keys would multiply it).
        assert (await limited.get("/api/v1/users/me", headers=bob.headers)).status_code == 200
        for name in ("ci", "cd"):
            created = await client.post(
                "/api/v1/api-keys/", json={"name": name}, headers=alice.headers
            )
            r = await limited.get("/api/v1/users/me", headers={"X-API-Key": created.json()["key"]})
            assert r.status_code == 429
            assert "for this account" in r.json()["detail"]


async def test_sign_in_attempts_are_budgeted_per_account_before_any_hash_check(
    database_url: str, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core import security

    alice, bob = await make_user(), await make_user()
    verified: list[str] = []
    real_verify = security.verify_password

    def counting_verify(password: str, hashed: str) -> tuple[bool, str | None]:
        verified.append(hashed)
        return real_verify(password, hashed)

    monkeypatch.setattr(security, "verify_password", counting_verify)
    login = "/api/v1/login/access-token"
    async with app_client(database_url, RATE_LIMITS={"login": "3/minute"}) as limited:
        for _ in range(3):
            r = await limited.post(login, data={"username": alice.email, "password": "guess-123"})
            assert r.status_code == 401
        checked = len(verified)
        # Past the budget, even the right password waits, and no hash is verified.
        for password in ("guess-456", alice.password):
            refused = await limited.post(
                login, data={"username": alice.email, "password": password}
            )
            assert refused.status_code == 429, refused.text
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert len(verified) == checked
        # Another account from the same address has its own budget.
        r = await limited.post(login, data={"username": bob.email, "password": bob.password})
        assert r.status_code == 200


async def test_sign_in_attempts_are_budgeted_per_address_across_accounts(
    database_url: str,
) -> None:
    # Password spraying: one address, a new (and possibly huge) username every time.
    login = "/api/v1/login/access-token"
    limits = {"login_address": "3/minute"}
    async with app_instance(database_url, RATE_LIMITS=limits) as (application, limited):
        for index in range(3):
            username = f"{index}-" + "x" * 100_000
            r = await limited.post(login, data={"username": username, "password": "guess-123"})
            assert r.status_code == 401
        r = await limited.post(login, data={"username": "new@example.com", "password": "p-123"})
        assert r.status_code == 429
        # Counted under a digest of the username, not the username itself.
        assert all(len(key) < 200 for key in application.state.rate_limiter.storage._windows)


def test_a_rate_limits_setting_keeps_the_groups_it_leaves_out(database_url: str) -> None:
    limits = make_settings(database_url, RATE_LIMITS={"default": "5/minute"}).RATE_LIMITS
    assert limits["default"] == "5/minute"
    assert limits["login"] == "10/minute" and limits["generations"] == "60/minute"


async def test_rate_limits_can_be_disabled(database_url: str, user: TestUser) -> None:
    async with app_client(
        database_url, RATE_LIMITS={"default": "1/minute"}, RATE_LIMIT_ENABLED=False
    ) as unlimited:
        for _ in range(3):
            r = await unlimited.get("/api/v1/users/me", headers=user.headers)
            assert r.status_code == 200
            assert "X-RateLimit-Limit" not in r.headers


def test_a_limited_router_must_take_the_caller() -> None:
    # Requests are counted where the caller is resolved: a route without one would be neither
    # limited nor authenticated.
    router = APIRouter()

    @router.get("/open")
    async def open_route() -> None:
        return None

    with pytest.raises(TypeError, match="/open"):
        limited(router, "default")

    @router.get("/mine")
    async def mine(principal: CurrentPrincipal) -> None:
        return None

    del router.routes[0]
    assert limited(router, "default") is router


def test_bad_rate_limit_setting_is_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match="RATE_LIMITS"):
        make_settings(database_url, RATE_LIMITS={"default": "lots"})


@pytest.mark.redis
async def test_two_instances_share_one_redis_budget(
    database_url: str, settings: Any, user: TestUser
) -> None:
    limits = {"default": "4/minute"}
    headers = token_headers(settings, user.id)
    async with (
        app_client(database_url, REDIS_URL=REDIS_URL, RATE_LIMITS=limits) as first,
        app_client(database_url, REDIS_URL=REDIS_URL, RATE_LIMITS=limits) as second,
    ):
        seen = []
        for instance in (first, second, first, second):
            r = await instance.get("/api/v1/users/me", headers=headers)
            assert r.status_code == 200
            seen.append(int(r.headers["X-RateLimit-Remaining"]))
        assert seen == [3, 2, 1, 0]
        assert (await second.get("/api/v1/users/me", headers=headers)).status_code == 429
        assert (await first.get("/api/v1/users/me", headers=headers)).status_code == 429


async def test_in_process_counters_keep_fixed_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(rate_limit_core.time, "time", lambda: now[0])
    counters = rate_limit_core.InProcessCounters()
    assert await counters.incr("a", 60) == 1
    now[0] += 59
    assert await counters.incr("a", 60) == 2
    assert await counters.get_expiry("a") == 1060.0
    assert await counters.incr("b", 60, amount=3) == 3
    # The window ends 60 s after its first hit, then the count starts again.
    now[0] += 1
    assert await counters.incr("a", 60) == 1
    assert await counters.get_expiry("a") == 1120.0
    # Expired keys are dropped (here "b", whose window ended), not kept forever.
    now[0] += rate_limit_core.InProcessCounters.SWEEP_SECONDS + 60
    await counters.incr("c", 60)
    assert set(counters._windows) == {"c"}
    assert await counters.get_expiry("b") == now[0]


async def test_retry_after_names_the_longest_refusing_window(
    database_url: str, user: TestUser
) -> None:
    # Refused by both, a retry after the short window's reset is refused again.
    async with app_client(database_url, RATE_LIMITS={"default": "1/second;2/minute"}) as c:
        statuses = [(await c.get("/api/v1/users/me", headers=user.headers)) for _ in range(3)]
    assert statuses[0].status_code == 200
    last = statuses[2]
    assert last.status_code == 429
    assert last.headers["X-RateLimit-Limit"] == "2"
    assert int(last.headers["Retry-After"]) > 1


async def test_an_unreachable_shared_storage_still_limits_sign_in_attempts(
    database_url: str, user: TestUser, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down: requests are counted in the process meanwhile (never not at all, which
    would let anyone guess passwords at full speed), and the outage is reported once."""
    from tests.fakes.server import free_port

    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    limiter = rate_limit_core.RateLimiter(
        make_settings(database_url, REDIS_URL=dead_redis, RATE_LIMITS={"login": "2/minute"})
    )
    with caplog.at_level("WARNING", logger="app.core.rate_limit"):
        states = [await limiter.hit("login", f"user:{user.id}") for _ in range(3)]
        other = await limiter.hit("login", "user:someone-else")
    assert [s is not None and s.allowed for s in states] == [True, True, False]
    assert other is not None and other.allowed
    outages = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outages) == 1

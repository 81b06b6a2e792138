"""Shared fixtures: a migrated database (PostgreSQL or SQLite), the app, clients and users.

`DATABASE_URL=postgresql+asyncpg://…` runs the suite on that server in a database of its own,
created and dropped here; otherwise on a temporary SQLite file. Tests marked `postgres` or
`redis` use the local servers and are skipped when these are unreachable, except under CI=true.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

# Settings are read at import time by some modules: point everything at scratch space first.
_TMP = Path(tempfile.mkdtemp(prefix="sartiq-tests-"))
os.environ["DATA_DIR"] = str(_TMP / "data")
os.environ.setdefault("ENVIRONMENT", "development")
# The suite's shared app sends no webhooks: deliveries belong to the tests that start a
# dispatcher (with the loopback receiver allowed), not to whichever app polls first.
os.environ.setdefault("WEBHOOK_DISPATCHER_ENABLED", "false")

from app.core import security  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models.user import User  # noqa: E402

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PG_SERVER_URL = os.environ.get(
    "TEST_POSTGRES_URL", f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/postgres"
)
SUPERUSER_EMAIL = "root@example.com"
SUPERUSER_PASSWORD = "root-password-for-tests"
USER_PASSWORD = "user-password-for-tests"
IN_CI = os.environ.get("CI", "").lower() == "true"

_skipped_services: set[str] = set()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    if IN_CI:
        pytest.fail(f"{name} at {host}:{port} is unreachable and CI=true", pytrace=False)
    _skipped_services.add(name)
    pytest.skip(f"{name} unreachable")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("postgres"):
            item.fixturenames.insert(0, "_needs_postgres")
        if item.get_closest_marker("redis"):
            item.fixturenames.insert(0, "_needs_redis")


@pytest.fixture
def _needs_postgres() -> None:
    require_service("PostgreSQL", PG_HOST, PG_PORT)


@pytest.fixture
def _needs_redis() -> None:
    require_service("Redis", REDIS_HOST, REDIS_PORT)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_services:
        names = ", ".join(sorted(_skipped_services))
        terminalreporter.write_line(
            f"!!! SKIPPED tests that need {names}: server unreachable "
            "(start it, or run under CI=true to make this a failure) !!!",
            red=True,
            bold=True,
        )


# --- databases ---------------------------------------------------------------------------


async def create_postgres_database(server_url: str) -> str:
    """Create an empty database on the server of `server_url`; return its URL."""
    import asyncpg

    name = f"test_{uuid.uuid4().hex[:12]}"
    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    server, name = url.rsplit("/", 1)
    conn = await asyncpg.connect(
        server.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _suite_uses_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgresql")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    if _suite_uses_postgres():
        server = os.environ["DATABASE_URL"]
        if not _reachable(PG_HOST, PG_PORT) and not IN_CI:
            pytest.skip("PostgreSQL unreachable")
        url = await create_postgres_database(server)
        try:
            yield url
        finally:
            await drop_postgres_database(url)
    else:
        yield f"sqlite+aiosqlite:///{_TMP / 'suite.db'}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "DATA_DIR": _TMP / "data",
        "FIRST_SUPERUSER": SUPERUSER_EMAIL,
        "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "BACKEND_CORS_ORIGINS": "http://admin.example.com",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


# --- users -------------------------------------------------------------------------------

_USER_HASH: str | None = None


@dataclass
class TestUser:
    __test__ = False  # a fixture value, not a test class

    user: User
    headers: dict[str, str]
    password: str = USER_PASSWORD

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email


UserFactory = Callable[..., Awaitable[TestUser]]


def token_headers(settings: Settings, user_id: uuid.UUID) -> dict[str, str]:
    token = security.create_access_token(
        str(user_id), timedelta(minutes=30), settings.secret_key, None
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_user(app: Any, settings: Settings) -> UserFactory:
    """Insert a user directly (hashing once per run keeps the suite fast) and mint a token."""

    async def factory(
        *, superuser: bool = False, active: bool = True, email: str | None = None
    ) -> TestUser:
        global _USER_HASH
        if _USER_HASH is None:
            _USER_HASH = await security.hash_password_async(USER_PASSWORD)
        user = User(
            email=email or f"user-{uuid.uuid4().hex[:10]}@example.com",
            hashed_password=_USER_HASH,
            is_superuser=superuser,
            is_active=active,
        )
        async with app.state.db.sessionmaker() as session:
            session.add(user)
            await session.commit()
        return TestUser(user=user, headers=token_headers(settings, user.id))

    return factory


@pytest.fixture
async def user(make_user: UserFactory) -> TestUser:
    return await make_user()


@pytest.fixture
async def superuser(make_user: UserFactory) -> TestUser:
    return await make_user(superuser=True)


@pytest.fixture
def make_org(client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def factory(
        owner: TestUser, *members: TestUser, name: str | None = None
    ) -> dict[str, Any]:
        r = await client.post(
            "/api/v1/organizations/",
            json={"name": name or f"org-{uuid.uuid4().hex[:8]}"},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
        org = r.json()
        for member in members:
            r = await client.post(
                f"/api/v1/organizations/{org['id']}/members",
                json={"user_id": str(member.id)},
                headers=owner.headers,
            )
            assert r.status_code == 201, r.text
        return dict(org)

    return factory

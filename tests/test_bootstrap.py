"""Start-up of several processes at once against one fresh database: each migrates, or
waits for the schema, and the first superuser and the defaults are created exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import bootstrap as bootstrap_module
from app.core.bootstrap import bootstrap
from app.core.db import Database
from app.models.generation_model import GenerativeModel
from app.models.user import User
from app.providers.defaults import default_generation_models
from tests.conftest import (
    PG_SERVER_URL,
    _suite_uses_postgres,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
)


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    if not _suite_uses_postgres():
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    url = await create_postgres_database(PG_SERVER_URL)
    try:
        yield url
    finally:
        await drop_postgres_database(url)


async def _start(url: str, tmp_path: Path, **overrides: Any) -> None:
    settings = make_settings(url, DATA_DIR=tmp_path, **overrides)
    db = Database(settings)
    try:
        await bootstrap(settings, db)
    finally:
        await db.dispose()


async def _count(url: str, tmp_path: Path, column: Any) -> int:
    db = Database(make_settings(url, DATA_DIR=tmp_path))
    try:
        async with db.sessionmaker() as session:
            return int((await session.execute(select(func.count(column)))).scalar_one())
    finally:
        await db.dispose()


async def test_processes_starting_together_create_everything_once(
    fresh_url: str, tmp_path: Path
) -> None:
    # One process migrates, as the README advises; the others wait for its schema.
    await asyncio.gather(
        _start(fresh_url, tmp_path, AUTO_MIGRATE=False),
        _start(fresh_url, tmp_path),
        _start(fresh_url, tmp_path, AUTO_MIGRATE=False),
        _start(fresh_url, tmp_path),
    )
    assert await _count(fresh_url, tmp_path, User.id) == 1
    models = await _count(fresh_url, tmp_path, GenerativeModel.id)
    assert models == len(default_generation_models())


async def test_without_auto_migrate_a_schema_never_migrated_is_a_clear_error(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap_module, "SCHEMA_WAIT_SECONDS", 0.1)
    with pytest.raises(RuntimeError, match="run `alembic upgrade head`"):
        await _start(fresh_url, tmp_path, AUTO_MIGRATE=False)

"""The schema comes only from migrations: they must agree with the models and be reversible."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import command
from app.core.bootstrap import alembic_config
from app.models.base import metadata
from tests.conftest import PG_SERVER_URL, create_postgres_database, drop_postgres_database


async def _diff(url: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            def compare(sync_connection: Any) -> list[Any]:
                context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                return list(compare_metadata(context, metadata))

            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _roundtrip(url: str) -> None:
    config = alembic_config(url)
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _diff(url) == []
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await _tables(url) <= {"alembic_version"}
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _diff(url) == []


@pytest.mark.postgres
async def test_postgres_migrations_match_models_and_reverse() -> None:
    url = await create_postgres_database(PG_SERVER_URL)
    try:
        await _roundtrip(url)
    finally:
        await drop_postgres_database(url)


async def test_sqlite_migrations_reverse(tmp_path: Path) -> None:
    await _roundtrip(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, func, over, select
from sqlmodel import col
from sqlmodel import select as select_model
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import Database, driver_statement
from app.models.generation_model import GenerativeModel
from app.repositories.rows import detached

# The public columns, in contract order; reads return plain dicts so the hot GET paths skip
# ORM identity-map work and a second pydantic validation of rows we wrote ourselves.
PUBLIC_COLUMNS = [
    GenerativeModel.__table__.c[name]  # type: ignore[attr-defined]
    for name in (
        "id",
        "name",
        "icon",
        "provider",
        "provider_config",
        "provider_capabilities",
        "fallback_provider",
        "fallback_provider_config",
        "fallback_provider_capabilities",
        "tool_types",
        "recommended",
        "beta",
        "max_output_width",
        "max_output_height",
        "max_size_pixels",
    )
]
_ORDER = (col(GenerativeModel.created_at), col(GenerativeModel.id))
# Built once with bound parameters: SQLAlchemy memoises a statement's cache key on the object,
# so the hot reads neither rebuild the column list nor recompute the key per request.
_LIST_QUERY = (
    select(*PUBLIC_COLUMNS, over(func.count()).label("_total"))
    .order_by(*_ORDER)
    .offset(bindparam("skip"))
    .limit(bindparam("limit"))
)
_GET_QUERY = select(*PUBLIC_COLUMNS).where(col(GenerativeModel.id) == bindparam("id"))
_COUNT_QUERY = select(func.count()).select_from(GenerativeModel)


# On PostgreSQL the same statements, compiled once, go straight to the asyncpg pool (and are
# prepared and cached per connection by asyncpg itself): SQLAlchemy's per-execution work was
# most of the cost of these two hot public reads.


def _pg_row(record: Any) -> dict[str, Any]:
    # JSONB arrives decoded (the pool registers orjson as asyncpg's codec on connect);
    # asyncpg's UUID subclass would need a serialiser fallback, the SQLAlchemy path gives
    # uuid.UUID.
    row = dict(record)
    row["id"] = uuid.UUID(bytes=record["id"].bytes)
    return row


class PublicGenerationModelReader:
    """The public GET paths: one statement each, rows as plain dicts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_row(self, model_id: uuid.UUID) -> dict[str, Any] | None:
        pool = await self.db.driver_pool()
        if pool is not None:
            get = driver_statement(_GET_QUERY)
            record = await pool.fetchrow(get.sql, *get.args({"id": model_id}))
            return _pg_row(record) if record is not None else None
        async with self.db.read_engine.connect() as connection:
            result = await connection.execute(_GET_QUERY, {"id": model_id})
            row = result.mappings().first()
        return dict(row) if row is not None else None

    async def list_rows(self, *, skip: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        pool = await self.db.driver_pool()
        if pool is not None:
            page = driver_statement(_LIST_QUERY)
            records = await pool.fetch(page.sql, *page.args({"skip": skip, "limit": limit}))
            if records:
                total = records[0]["_total"]
                rows = [_pg_row(record) for record in records]
                for row in rows:
                    del row["_total"]
                return rows, int(total)
            return [], int(await pool.fetchval(driver_statement(_COUNT_QUERY).sql))
        # The window count returns page and total in one round trip.
        async with self.db.read_engine.connect() as connection:
            result = await connection.execute(_LIST_QUERY, {"skip": skip, "limit": limit})
            rows = [dict(row) for row in result.mappings()]
            if not rows:
                return [], int((await connection.execute(_COUNT_QUERY)).scalar_one())
        total = rows[0]["_total"]
        for row in rows:
            del row["_total"]
        return rows, int(total)


_ALL_QUERY = select(*GenerativeModel.__table__.c).order_by(*_ORDER)  # type: ignore[attr-defined]


async def list_all_pooled(pool: Any) -> list[GenerativeModel]:
    """`GenerationModelRepository.list_all` on PostgreSQL's driver pool (detached models):
    generation requests read the whole catalogue without beginning their session's
    transaction."""
    records = await pool.fetch(driver_statement(_ALL_QUERY).sql)
    return [detached(GenerativeModel, _pg_row(record)) for record in records]


class GenerationModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, model_id: uuid.UUID) -> GenerativeModel | None:
        return await self.session.get(GenerativeModel, model_id)

    async def list_all(self) -> list[GenerativeModel]:
        result = await self.session.exec(select_model(GenerativeModel).order_by(*_ORDER))
        return list(result.all())

    async def add(self, model: GenerativeModel) -> GenerativeModel:
        self.session.add(model)
        await self.session.flush()
        return model

    async def delete(self, model: GenerativeModel) -> None:
        await self.session.delete(model)
        await self.session.flush()

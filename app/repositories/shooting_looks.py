from __future__ import annotations

import uuid
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Select, and_, bindparam, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.style import Style
from app.models.subject import Subject
from app.repositories.catalogue import (
    pg_columns_sql,
    pg_scope_args,
    pg_visible_sql,
    visible_condition,
)
from app.repositories.rows import column_names, detached
from app.services.tenancy import OwnerScope, ScopeShape

LookSelect = Select[ShootingLook, Subject, Product, Style]
LookWithEntities = tuple[ShootingLook, Subject | None, Product | None, Style | None]


def _look_statement(shape: ScopeShape) -> LookSelect:
    def visible(model: Any) -> Any:
        return visible_condition(model.__table__, shape)

    return (
        select(ShootingLook, Subject, Product, Style)
        .select_from(ShootingLook)
        .outerjoin(Subject, and_(col(Subject.id) == ShootingLook.subject_id, visible(Subject)))
        .outerjoin(Product, and_(col(Product.id) == ShootingLook.main_product_id, visible(Product)))
        .outerjoin(Style, and_(col(Style.id) == ShootingLook.style_id, visible(Style)))
        .where(col(ShootingLook.id) == bindparam("look_id"), visible(ShootingLook))
    )


# One prebuilt statement per scope shape: building the joins per request, and hashing them
# for SQLAlchemy's compiled cache, cost more than the query itself.
_LOOK_STATEMENTS: dict[ScopeShape, LookSelect] = {
    shape: _look_statement(shape) for shape in ("all", "organization", "personal")
}


async def get_look_with_entities(
    session: AsyncSession, scope: OwnerScope, look_id: uuid.UUID
) -> LookWithEntities | None:
    """A visible shooting look with its subject, main product and style, in one query.

    Each joined entity must be visible to the caller as well; one that is not comes back
    as None."""
    params = scope.params()
    params["look_id"] = look_id
    row = (await session.execute(_LOOK_STATEMENTS[scope.shape], params)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


# The same query as PostgreSQL text for the driver pool: each table's columns in turn, the
# joined ones all NULL when the entity is missing or not visible.
_JOINED: list[tuple[type[Any], str, str]] = [
    (Subject, "s", "subject_id"),
    (Product, "p", "main_product_id"),
    (Style, "st", "style_id"),
]


def _pg_look_sql(shape: ScopeShape) -> str:
    columns = [pg_columns_sql(ShootingLook, "l")]
    joins = []
    for model, alias, foreign_key in _JOINED:
        table = model.__table__
        columns.append(pg_columns_sql(model, alias))
        joins.append(
            f'LEFT JOIN "{table.name}" AS {alias} ON {alias}.id = l.{foreign_key} '
            f"AND {pg_visible_sql(table, shape, alias)}"
        )
    look_id = "$1" if shape == "all" else "$2"
    look_table: Any = ShootingLook.__table__  # type: ignore[attr-defined]
    return (
        f"SELECT {', '.join(columns)} FROM shooting_look AS l {' '.join(joins)} "  # noqa: S608
        f"WHERE l.id = {look_id}::uuid AND "
        f"{pg_visible_sql(look_table, shape, 'l')}"
    )


_PG_LOOK_SQL: dict[ScopeShape, str] = {
    shape: _pg_look_sql(shape) for shape in ("all", "organization", "personal")
}
# (model, its column names, where they start in the row, where its id is in the row)
_SLICES: list[tuple[type[Any], list[str], int, int]] = []
_start = 0
for _model in (ShootingLook, Subject, Product, Style):
    _names = column_names(_model)
    _SLICES.append((_model, _names, _start, _start + _names.index("id")))
    _start += len(_names)


async def get_look_with_entities_pooled(
    connection: asyncpg.Connection | asyncpg.Pool, scope: OwnerScope, look_id: uuid.UUID
) -> LookWithEntities | None:
    """`get_look_with_entities` on the driver pool, for read-only requests."""
    record = await connection.fetchrow(_PG_LOOK_SQL[scope.shape], *pg_scope_args(scope), look_id)
    if record is None:
        return None
    entities: list[Any] = []
    for model, names, start, id_index in _SLICES:
        # A missing joined row comes back as all NULLs; its id is never NULL otherwise.
        if record[id_index] is None:
            entities.append(None)
            continue
        values = record[start : start + len(names)]
        entities.append(detached(model, dict(zip(names, values, strict=True))))
    return entities[0], entities[1], entities[2], entities[3]

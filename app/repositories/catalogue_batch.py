"""Several catalogue reads in one round trip on the driver pool (PostgreSQL).

A round trip to the database costs this server more CPU than the rows it brings back, so the
reads of one prompt request (the shooting look with its subject, product and style; pose
presets, subjects, products, styles, shot types by id or slug) go as one SELECT of scalar
subqueries: each kind's visible rows as an array of anonymous records, in the column order
of `column_names`, which asyncpg decodes with its binary codecs. JSON columns travel as text
(the pool's JSON codec is a text codec, which asyncpg cannot apply inside a record) and are
decoded here as the codec would.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import JSON

from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.style import Style
from app.models.subject import Subject
from app.repositories.catalogue import pg_scope_args, pg_visible_sql
from app.repositories.rows import column_names, detached
from app.repositories.shooting_looks import LookWithEntities
from app.services.tenancy import OwnerScope, ScopeShape

# A read of one kind: its visible rows among these ids (and slugs, where the table has them).
Wanted = Mapping[type[Any], tuple[Sequence[uuid.UUID], Sequence[str]]]


@dataclass
class Batch:
    rows: dict[type[Any], list[Any]] = field(default_factory=dict)
    look: LookWithEntities | None = None


_LAYOUTS: dict[type[Any], tuple[list[str], list[int], int]] = {}


def _layout(model: type[Any]) -> tuple[list[str], list[int], int]:
    """A model's column names in record order, where its JSON columns are, where its id is."""
    layout = _LAYOUTS.get(model)
    if layout is None:
        names = column_names(model)
        json_positions = [
            i for i, column in enumerate(model.__table__.c) if isinstance(column.type, JSON)
        ]
        layout = _LAYOUTS[model] = (names, json_positions, names.index("id"))
    return layout


def _record_sql(model: type[Any], alias: str) -> str:
    return ", ".join(
        f'{alias}."{column.name}"' + ("::text" if isinstance(column.type, JSON) else "")
        for column in model.__table__.c
    )


def _has_slug(model: type[Any]) -> bool:
    return "slug" in model.__table__.c


# The look and the entities it names, joined only where the caller may see them: one record
# of every table's columns in turn, a joined table's all NULL when its row is missing.
_LOOK_JOINED: list[tuple[type[Any], str, str]] = [
    (Subject, "s", "subject_id"),
    (Product, "p", "main_product_id"),
    (Style, "st", "style_id"),
]


def _look_sql(shape: ScopeShape, look_id: str) -> str:
    columns = [_record_sql(ShootingLook, "l")]
    joins = []
    for model, alias, foreign_key in _LOOK_JOINED:
        table = model.__table__
        columns.append(_record_sql(model, alias))
        joins.append(
            f'LEFT JOIN "{table.name}" AS {alias} ON {alias}.id = l.{foreign_key} '
            f"AND {pg_visible_sql(table, shape, alias)}"
        )
    look_table: Any = ShootingLook.__table__  # type: ignore[attr-defined]
    return (
        f"(SELECT ROW({', '.join(columns)}) FROM shooting_look AS l {' '.join(joins)} "  # noqa: S608
        f"WHERE l.id = {look_id}::uuid AND {pg_visible_sql(look_table, shape, 'l')})"
    )


def _rows_sql(model: type[Any], shape: ScopeShape, ids: str, slugs: str | None) -> str:
    table = model.__table__
    wanted = f"t.id = ANY({ids}::uuid[])"
    if slugs is not None:
        wanted = f"({wanted} OR t.slug = ANY({slugs}::text[]))"
    return (
        f'(SELECT array_agg(ROW({_record_sql(model, "t")})) FROM "{table.name}" AS t '  # noqa: S608
        f"WHERE {pg_visible_sql(table, shape, 't')} AND {wanted})"
    )


_SQL: dict[tuple[ScopeShape, tuple[type[Any], ...], bool], str] = {}


def _batch_sql(shape: ScopeShape, models: tuple[type[Any], ...], with_look: bool) -> str:
    key = (shape, models, with_look)
    sql = _SQL.get(key)
    if sql is None:
        # A scope binds at most one id, as $1 (see `pg_visible_sql`); the reads follow.
        number = 1 if shape == "all" else 2
        parts = []
        for model in models:
            ids, number = f"${number}", number + 1
            slugs = None
            if _has_slug(model):
                slugs, number = f"${number}", number + 1
            parts.append(_rows_sql(model, shape, ids, slugs))
        if with_look:
            parts.append(_look_sql(shape, f"${number}"))
        sql = _SQL[key] = f"SELECT {', '.join(parts)}"
    return sql


def _hydrate(model: type[Any], values: Sequence[Any]) -> Any:
    names, json_positions, _ = _layout(model)
    row = dict(zip(names, values, strict=True))
    for position in json_positions:
        text = values[position]
        if text is not None:
            row[names[position]] = orjson.loads(text)
    return detached(model, row)


def _look(record: Sequence[Any]) -> LookWithEntities:
    entities: list[Any] = []
    start = 0
    for model in (ShootingLook, Subject, Product, Style):
        names, _, id_position = _layout(model)
        values = record[start : start + len(names)]
        start += len(names)
        # A missing joined row comes back as all NULLs; its id is never NULL otherwise.
        entities.append(None if values[id_position] is None else _hydrate(model, values))
    return entities[0], entities[1], entities[2], entities[3]


async def fetch_batch(
    connection: asyncpg.Connection,
    scope: OwnerScope,
    wanted: Wanted,
    look_id: uuid.UUID | None = None,
) -> Batch:
    """The rows of every kind in `wanted` that `scope` may see, and the look `look_id` with
    its entities (None when the caller cannot see it), in one statement."""
    models = tuple(model for model, (ids, slugs) in wanted.items() if ids or slugs)
    if not models and look_id is None:
        return Batch()
    args = pg_scope_args(scope)
    for model in models:
        ids, slugs = wanted[model]
        args.append(list(dict.fromkeys(ids)))
        if _has_slug(model):
            args.append(list(dict.fromkeys(slugs)))
    if look_id is not None:
        args.append(look_id)
    record = await connection.fetchrow(_batch_sql(scope.shape, models, look_id is not None), *args)
    batch = Batch()
    for i, model in enumerate(models):
        batch.rows[model] = [_hydrate(model, values) for values in record[i] or ()]
    if look_id is not None and record[len(models)] is not None:
        batch.look = _look(record[len(models)])
    return batch

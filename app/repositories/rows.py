"""ORM instances from plain driver rows, for hot reads that bypass the SQLAlchemy session.

On PostgreSQL the asyncpg pool returns the same Python values the SQLAlchemy asyncpg dialect
would (same codecs; the column types used here have no result processing there), so an
instance built from a driver row equals one the session would have loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import configure_mappers, make_transient_to_detached

T = TypeVar("T")

_factories: dict[type[Any], Callable[[], Any]] = {}


def column_names(model: type[Any]) -> list[str]:
    return [column.name for column in model.__table__.c]


def detached(model: type[T], values: Mapping[str, Any]) -> T:
    """`model` as the ORM would have loaded it from `values` (every column), then detached.

    What the session's loader does, minus the identity map: no validation (the row is ours)
    and no default factories. A detached instance can join a session later with `add`,
    as persistent and clean, without a query."""
    factory = _factories.get(model)
    if factory is None:
        configure_mappers()
        factory = _factories[model] = inspect(model).class_manager.new_instance
    instance = factory()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance  # type: ignore[no-any-return]

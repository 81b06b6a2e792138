"""ORM instances from plain driver rows, for hot reads that bypass the SQLAlchemy session.

On PostgreSQL the asyncpg pool returns the same Python values the SQLAlchemy asyncpg dialect
would (same codecs; the column types used here have no result processing there), so an
instance built from a driver row equals one the session would have loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.attributes import instance_state

T = TypeVar("T")

# model -> (instance factory, identity key from the row's primary key)
_builders: dict[type[Any], tuple[Callable[[], Any], Callable[[Mapping[str, Any]], Any]]] = {}


def _builder(model: type[Any]) -> tuple[Callable[[], Any], Callable[[Mapping[str, Any]], Any]]:
    builder = _builders.get(model)
    if builder is None:
        configure_mappers()
        mapper = inspect(model)
        if any(True for _ in mapper.relationships):
            raise TypeError(f"{model.__name__} has relationships: load it through a session")
        keys = [column.key for column in mapper.primary_key]

        def identity(values: Mapping[str, Any]) -> Any:
            return mapper.identity_key_from_primary_key([values[key] for key in keys])

        builder = _builders[model] = (mapper.class_manager.new_instance, identity)
    return builder


def column_names(model: type[Any]) -> list[str]:
    return [column.name for column in model.__table__.c]


def detached(model: type[T], values: Mapping[str, Any]) -> T:
    """`model` as the ORM would have loaded it from `values` (every column), then detached.

    What the session's loader does, minus the identity map: no validation (the row is ours)
    and no default factories. A detached instance can join a session later with `add`,
    as persistent and clean, without a query."""
    new_instance, identity = _builder(model)
    instance = new_instance()
    instance.__dict__.update(values)
    # A fresh instance with every column set and no relationships: giving it its identity key
    # is all `make_transient_to_detached` would do, at a third of the cost.
    instance_state(instance).key = identity(values)
    return instance  # type: ignore[no-any-return]

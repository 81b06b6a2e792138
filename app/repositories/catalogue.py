"""SQL for the organization-owned catalogue tables, generic over the table class.

Every read goes through `OwnerScope.condition` (plus `public` rows where the table has that
flag), so rows of another organization are simply not there for the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, bindparam, func, or_, over
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.services.tenancy import OwnerScope, ScopeShape, scoped_condition

T = TypeVar("T", bound=SQLModel)


def visible_condition(table: Any, shape: ScopeShape) -> ColumnElement[bool]:
    """The rows of `table` a scope of `shape` may see, its ids as bound parameters
    (`OwnerScope.params`): its own rows, and `public` ones where the table has the flag."""
    c = table.c
    condition = scoped_condition(shape, c.owner_id, c.organization_id)
    if "public" in c:
        return or_(condition, c.public.is_(True))
    return condition


# (model, scope shape) -> the `find_visible` statement, built on first use. The statement
# object is reused so SQLAlchemy's memoised cache key is computed once, not per request.
_FIND_STATEMENTS: dict[tuple[type[Any], ScopeShape], SelectOfScalar[Any]] = {}


def _find_statement(model: type[T], shape: ScopeShape) -> SelectOfScalar[T]:
    statement = _FIND_STATEMENTS.get((model, shape))
    if statement is None:
        c = model.__table__.c  # type: ignore[attr-defined]
        # Expanding parameters: one cached compilation for any number of ids and slugs (an
        # empty list renders as an always-false IN).
        wanted = c.id.in_(bindparam("ids", expanding=True))
        if "slug" in c:
            wanted = or_(wanted, c.slug.in_(bindparam("slugs", expanding=True)))
        statement = select(model).where(visible_condition(model.__table__, shape), wanted)  # type: ignore[attr-defined]
        _FIND_STATEMENTS[(model, shape)] = statement
    return statement


# The same reads as SQL for the driver pool (PostgreSQL). A scope binds at most one id, always
# as $1: the organization's for an organization scope, the user's for a personal one.
def pg_scope_args(scope: OwnerScope) -> list[Any]:
    shape = scope.shape
    if shape == "all":
        return []
    return [scope.organization_id if shape == "organization" else scope.user_id]


def pg_visible_sql(table: Any, shape: ScopeShape, alias: str) -> str:
    """`visible_condition` as PostgreSQL text, for the rows of `table` aliased `alias`."""
    if shape == "all":
        return "TRUE"
    if shape == "organization":
        condition = f"{alias}.organization_id = $1::uuid"
    else:
        condition = f"({alias}.organization_id IS NULL AND {alias}.owner_id = $1::uuid)"
    if "public" in table.c:
        return f"({condition} OR {alias}.public)"
    return condition


class DuplicateRow(Exception):
    """A unique index refused the write (a concurrent insert of the same slug)."""


class CatalogueRepository(Generic[T]):
    def __init__(self, session: AsyncSession, model: type[T]) -> None:
        self.session = session
        self.model = model
        self.table: Any = model.__table__  # type: ignore[attr-defined]

    def visible(self, scope: OwnerScope) -> ColumnElement[bool]:
        c = self.table.c
        condition = scope.condition(c.owner_id, c.organization_id)
        if "public" in c:
            return or_(condition, c.public.is_(True))
        return condition

    async def list_page(
        self, scope: OwnerScope, *, skip: int, limit: int, filters: Iterable[Any] = ()
    ) -> tuple[list[T], int]:
        c = self.table.c
        conditions = [self.visible(scope), *filters]
        # The window count returns the page and the total in one round trip.
        query = (
            select(self.model, over(func.count()).label("_total"))
            .where(*conditions)
            .order_by(c.created_at, c.id)
            .offset(skip)
            .limit(limit)
        )
        rows = (await self.session.exec(query)).all()
        if rows:
            return [row[0] for row in rows], int(rows[0][1])
        count_query = select(func.count()).select_from(self.table).where(*conditions)
        return [], int((await self.session.exec(count_query)).one())

    async def get_visible(self, scope: OwnerScope, row_id: uuid.UUID) -> T | None:
        query = select(self.model).where(self.table.c.id == row_id, self.visible(scope))
        return (await self.session.exec(query)).first()

    async def find_visible(
        self, scope: OwnerScope, *, ids: Iterable[uuid.UUID] = (), slugs: Iterable[str] = ()
    ) -> list[T]:
        """Every visible row among `ids` and `slugs`, in one query."""
        id_list, slug_list = list(dict.fromkeys(ids)), list(dict.fromkeys(slugs))
        if not id_list and not slug_list:
            return []
        params = scope.params()
        params["ids"] = id_list
        params["slugs"] = slug_list
        result = await self.session.exec(_find_statement(self.model, scope.shape), params=params)
        return list(result.all())

    async def slug_taken(
        self,
        slug: str,
        *,
        owner_id: uuid.UUID,
        organization_id: uuid.UUID | None,
        exclude_id: uuid.UUID | None = None,
    ) -> bool:
        c = self.table.c
        if organization_id is not None:
            same_owner = c.organization_id == organization_id
        else:
            same_owner = (c.organization_id.is_(None)) & (c.owner_id == owner_id)
        query = select(c.id).where(same_owner, c.slug == slug)
        if exclude_id is not None:
            query = query.where(c.id != exclude_id)
        return (await self.session.exec(query.limit(1))).first() is not None

    async def save(self, row: T) -> T:
        """Insert or update `row`; a unique-index violation becomes `DuplicateRow`."""
        self.session.add(row)
        try:
            # A savepoint keeps the request's transaction usable after a refused write.
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise DuplicateRow(str(exc.orig)) from exc
        return row

    async def delete(self, row: T) -> None:
        await self.session.delete(row)
        await self.session.flush()

"""SQL for the organization-owned catalogue tables, generic over the table class.

Every read goes through `OwnerScope.condition` (plus `public` rows where the table has that
flag), so rows of another organization are simply not there for the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, or_, over
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.services.tenancy import OwnerScope

T = TypeVar("T", bound=SQLModel)


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
        c = self.table.c
        id_list, slug_list = list(dict.fromkeys(ids)), list(dict.fromkeys(slugs))
        wanted = []
        if id_list:
            wanted.append(c.id.in_(id_list))
        if slug_list:
            wanted.append(c.slug.in_(slug_list))
        if not wanted:
            return []
        query = select(self.model).where(self.visible(scope), or_(*wanted))
        return list((await self.session.exec(query)).all())

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

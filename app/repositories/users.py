from __future__ import annotations

import uuid

import asyncpg  # type: ignore[import-untyped]
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.user import User
from app.repositories.rows import column_names, detached

# Read on every authenticated request (PostgreSQL, driver pool); never cached, so a
# deactivated or demoted user is seen as such on their next request.
_PG_GET_SQL = (
    f"SELECT {', '.join(f'u.{name}' for name in column_names(User))} "  # noqa: S608
    'FROM "user" AS u WHERE u.id = $1::uuid'
)


async def get_detached(pool: asyncpg.Pool, user_id: uuid.UUID) -> User | None:
    """The user row as a detached `User`, read without a session or a transaction: the
    request's session adds it back (no query) only when a route works with the user."""
    record = await pool.fetchrow(_PG_GET_SQL, user_id)
    return None if record is None else detached(User, record)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        result = await self.session.exec(
            select(User).where(func.lower(User.email) == email.lower())
        )
        return result.first()

    async def list_page(
        self, *, skip: int, limit: int, search: str | None = None
    ) -> tuple[list[User], int]:
        query = select(User)
        count_query = select(func.count()).select_from(User)
        if search:
            pattern = f"%{search.lower()}%"
            condition = func.lower(User.email).like(pattern) | func.lower(
                func.coalesce(User.full_name, "")
            ).like(pattern)
            query = query.where(condition)
            count_query = count_query.where(condition)
        count = (await self.session.exec(count_query)).one()
        rows = await self.session.exec(
            query.order_by(col(User.created_at), col(User.id)).offset(skip).limit(limit)
        )
        return list(rows.all()), count

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def delete(self, user: User) -> None:
        await self.session.delete(user)
        await self.session.flush()

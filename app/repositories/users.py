from __future__ import annotations

import uuid

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.user import User


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

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.api_key import ApiKey
from app.models.user import User


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def get_active_with_owner(self, digest: str) -> tuple[ApiKey, User] | None:
        result = await self.session.exec(
            select(ApiKey, User)
            .join(User, col(User.id) == ApiKey.owner_id)
            .where(ApiKey.key_hash == digest)
            .where(col(ApiKey.revoked_at).is_(None))
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    async def list_page(
        self,
        *,
        skip: int,
        limit: int,
        organization_id: uuid.UUID | None,
        owner_id: uuid.UUID | None,
    ) -> tuple[list[ApiKey], int]:
        conditions: list[ColumnElement[bool]] = []
        if organization_id is not None:
            conditions.append(col(ApiKey.organization_id) == organization_id)
        else:
            conditions.append(col(ApiKey.organization_id).is_(None))
        if owner_id is not None:
            conditions.append(col(ApiKey.owner_id) == owner_id)
        count = (
            await self.session.exec(select(func.count()).select_from(ApiKey).where(*conditions))
        ).one()
        rows = await self.session.exec(
            select(ApiKey)
            .where(*conditions)
            .order_by(col(ApiKey.created_at).desc(), col(ApiKey.id))
            .offset(skip)
            .limit(limit)
        )
        return list(rows.all()), count

    async def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        await self.session.flush()
        return key

    async def touch(self, key_id: uuid.UUID, when: datetime) -> None:
        await self.session.exec(
            update(ApiKey).where(col(ApiKey.id) == key_id).values(last_used_at=when)
        )

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.idempotency import IdempotencyRecord, IdempotencyStatus


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, credential: str, key: str) -> IdempotencyRecord | None:
        result = await self.session.exec(
            select(IdempotencyRecord)
            .where(IdempotencyRecord.credential == credential)
            .where(IdempotencyRecord.key == key)
        )
        return result.first()

    async def add(self, record: IdempotencyRecord) -> IdempotencyRecord:
        self.session.add(record)
        await self.session.flush()
        return record

    async def delete(self, record_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id)
        )

    async def complete(
        self, record_id: uuid.UUID, status: int, body: str, content_type: str | None
    ) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.id) == record_id)
            .values(
                status=IdempotencyStatus.COMPLETED,
                locked_until=None,
                response_status=status,
                response_body=body,
                response_content_type=content_type,
            )
        )

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) < now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

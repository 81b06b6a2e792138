from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.organization import Organization, OrganizationMember, OrganizationRole
from app.models.user import User


async def is_member_pooled(
    pool: asyncpg.Pool, organization_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """Membership read on the driver pool, for checks made outside any session."""
    found = await pool.fetchval(
        "SELECT TRUE FROM organization_member WHERE organization_id = $1 AND user_id = $2",
        organization_id,
        user_id,
    )
    return found is not None


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, organization_id: uuid.UUID) -> Organization | None:
        return await self.session.get(Organization, organization_id)

    async def list_page(
        self, *, skip: int, limit: int, member_id: uuid.UUID | None
    ) -> tuple[list[Organization], int]:
        """All organizations, or only those `member_id` belongs to."""
        query = select(Organization)
        count_query = select(func.count()).select_from(Organization)
        if member_id is not None:
            member_of = select(OrganizationMember.organization_id).where(
                OrganizationMember.user_id == member_id
            )
            query = query.where(col(Organization.id).in_(member_of))
            count_query = count_query.where(col(Organization.id).in_(member_of))
        count = (await self.session.exec(count_query)).one()
        rows = await self.session.exec(
            query.order_by(col(Organization.created_at), col(Organization.id))
            .offset(skip)
            .limit(limit)
        )
        return list(rows.all()), count

    async def lock(self, organization_id: uuid.UUID) -> bool:
        """Serialise membership changes of one organization (a row lock; SQLite's write
        lock), so that checks such as 'another owner remains' hold until the commit."""
        result = await self.session.execute(
            update(Organization)
            .where(col(Organization.id) == organization_id)
            .values(updated_at=datetime.now(UTC))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def owned_by(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.exec(
            select(OrganizationMember.organization_id)
            .where(OrganizationMember.user_id == user_id)
            .where(OrganizationMember.role == OrganizationRole.OWNER)
            .order_by(col(OrganizationMember.organization_id))
        )
        return list(rows.all())

    async def add(self, organization: Organization) -> Organization:
        self.session.add(organization)
        await self.session.flush()
        return organization

    async def get_membership(
        self, organization_id: uuid.UUID, user_id: uuid.UUID
    ) -> OrganizationMember | None:
        return await self.session.get(OrganizationMember, (organization_id, user_id))

    async def add_member(self, member: OrganizationMember) -> OrganizationMember:
        self.session.add(member)
        await self.session.flush()
        return member

    async def remove_member(self, member: OrganizationMember) -> None:
        await self.session.delete(member)
        await self.session.flush()

    async def list_members(
        self, organization_id: uuid.UUID, *, skip: int, limit: int
    ) -> tuple[list[tuple[OrganizationMember, User]], int]:
        condition = OrganizationMember.organization_id == organization_id
        count = (
            await self.session.exec(
                select(func.count()).select_from(OrganizationMember).where(condition)
            )
        ).one()
        rows = await self.session.exec(
            select(OrganizationMember, User)
            .join(User, col(User.id) == OrganizationMember.user_id)
            .where(condition)
            .order_by(col(OrganizationMember.created_at), col(User.id))
            .offset(skip)
            .limit(limit)
        )
        return [(member, user) for member, user in rows.all()], count

    async def count_owners(self, organization_id: uuid.UUID) -> int:
        return (
            await self.session.exec(
                select(func.count())
                .select_from(OrganizationMember)
                .where(OrganizationMember.organization_id == organization_id)
                .where(OrganizationMember.role == "OWNER")
            )
        ).one()

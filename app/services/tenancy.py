"""The Sartiq tenancy rule, in one place.

With `organization_id` a member sees that organization's rows; without it, only their personal
rows (rows of no organization); superusers see everything. API keys are pinned to the
organization (or personal space) they were created for.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, bindparam, true
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import Database
from app.core.errors import Forbidden, NotFound
from app.repositories.organizations import OrganizationRepository, is_member_pooled
from app.services.auth import Principal

ScopeShape = Literal["all", "organization", "personal"]
# Names of the parameters `scoped_condition` binds; `OwnerScope.params` supplies their values.
SCOPE_USER_PARAM = "scope_user_id"
SCOPE_ORGANIZATION_PARAM = "scope_organization_id"


def scoped_condition(
    shape: ScopeShape, owner_column: Any, organization_column: Any
) -> ColumnElement[bool]:
    """`OwnerScope.condition` with the ids left as bound parameters.

    Hot reads build their statement once per (table, shape) and pass `OwnerScope.params()` at
    execution: constructing the expression and computing its cache key on every request cost
    more than running the query."""
    if shape == "all":
        return true()
    organization = bindparam(SCOPE_ORGANIZATION_PARAM, type_=organization_column.type)
    if shape == "organization":
        return organization_column == organization  # type: ignore[no-any-return]
    user = bindparam(SCOPE_USER_PARAM, type_=owner_column.type)
    return and_(organization_column.is_(None), owner_column == user)


@dataclass(frozen=True)
class OwnerScope:
    user_id: uuid.UUID
    organization_id: uuid.UUID | None
    # A superuser listing without an organization filter sees every row.
    all_rows: bool = False

    def condition(self, owner_column: Any, organization_column: Any) -> ColumnElement[bool]:
        """SQL condition selecting the rows this scope may see."""
        if self.all_rows:
            return true()
        if self.organization_id is not None:
            return organization_column == self.organization_id  # type: ignore[no-any-return]
        return and_(organization_column.is_(None), owner_column == self.user_id)

    @property
    def shape(self) -> ScopeShape:
        if self.all_rows:
            return "all"
        return "organization" if self.organization_id is not None else "personal"

    def params(self) -> dict[str, Any]:
        """Values for the parameters of a `scoped_condition` statement of this scope's shape."""
        return {
            SCOPE_USER_PARAM: self.user_id,
            SCOPE_ORGANIZATION_PARAM: self.organization_id,
        }

    def can_see(self, owner_id: uuid.UUID | None, organization_id: uuid.UUID | None) -> bool:
        return self.all_rows or self.owns(owner_id, organization_id)

    def owns(self, owner_id: uuid.UUID | None, organization_id: uuid.UUID | None) -> bool:
        """Whether the row is the organization's, or the user's personal one (a superuser
        who sees every row still owns only these)."""
        if self.organization_id is not None:
            return organization_id == self.organization_id
        return organization_id is None and owner_id == self.user_id


async def is_member(session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return (
        await OrganizationRepository(session).get_membership(organization_id, user_id) is not None
    )


async def is_member_in(db: Database, organization_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """`is_member` without a session: on the driver pool (PostgreSQL), else a read session."""
    pool = await db.driver_pool()
    if pool is not None:
        return await is_member_pooled(pool, organization_id, user_id)
    async with db.read_sessionmaker() as session:
        return await is_member(session, organization_id, user_id)


MembershipCheck = Callable[[uuid.UUID, uuid.UUID], Awaitable[bool]]
ExistenceCheck = Callable[[uuid.UUID], Awaitable[bool]]


async def _exists(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    return await OrganizationRepository(session).get(organization_id) is not None


async def _exists_in(db: Database, organization_id: uuid.UUID) -> bool:
    async with db.read_sessionmaker() as session:
        return await _exists(session, organization_id)


async def _resolve(
    principal: Principal,
    organization_id: uuid.UUID | None,
    member: MembershipCheck,
    exists: ExistenceCheck,
) -> OwnerScope:
    user_id = principal.user.id
    if principal.api_key is not None:
        key_org = principal.api_key.organization_id
        if organization_id is not None and organization_id != key_org:
            raise Forbidden("This API key is not valid for that organization")
        # Membership was checked when the key was resolved.
        return OwnerScope(user_id=user_id, organization_id=key_org)
    if organization_id is None:
        return OwnerScope(user_id=user_id, organization_id=None, all_rows=principal.is_superuser)
    if await member(organization_id, user_id):
        return OwnerScope(user_id=user_id, organization_id=organization_id)
    if not principal.is_superuser:
        raise Forbidden()  # whether or not it exists: nothing is revealed to outsiders
    # A superuser acts in any organization, but in one that exists: what they create there
    # would otherwise fail on its foreign key.
    if not await exists(organization_id):
        raise NotFound("Organization not found")
    return OwnerScope(user_id=user_id, organization_id=organization_id)


async def resolve_scope(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID | None
) -> OwnerScope:
    return await _resolve(
        principal,
        organization_id,
        lambda org, user: is_member(session, org, user),
        lambda org: _exists(session, org),
    )


async def resolve_scope_in(
    db: Database, principal: Principal, organization_id: uuid.UUID | None
) -> OwnerScope:
    """`resolve_scope` for callers without a session (the request dependencies)."""
    return await _resolve(
        principal,
        organization_id,
        lambda org, user: is_member_in(db, org, user),
        lambda org: _exists_in(db, org),
    )

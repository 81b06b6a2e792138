from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.models.organization import (
    Organization,
    OrganizationCreate,
    OrganizationMember,
    OrganizationMemberCreate,
    OrganizationRole,
)
from app.models.user import User
from app.repositories.organizations import OrganizationRepository
from app.repositories.users import UserRepository
from app.services.auth import Principal

ALREADY_MEMBER = "The user is already a member of this organization"


async def create_organization(
    session: AsyncSession, principal: Principal, data: OrganizationCreate
) -> Organization:
    if principal.api_key is not None:
        raise Forbidden("API keys cannot create organizations")
    repo = OrganizationRepository(session)
    organization = await repo.add(Organization.model_validate(data))
    await repo.add_member(
        OrganizationMember(
            organization_id=organization.id, user_id=principal.user.id, role=OrganizationRole.OWNER
        )
    )
    return organization


async def list_organizations(
    session: AsyncSession, principal: Principal, *, skip: int, limit: int
) -> tuple[list[Organization], int]:
    repo = OrganizationRepository(session)
    if principal.api_key is not None:
        key_org = principal.api_key.organization_id
        if key_org is None:
            return [], 0
        organization = await repo.get(key_org)
        visible = [organization] if organization is not None and skip == 0 and limit > 0 else []
        return visible, 1 if organization is not None else 0
    member_id = None if principal.is_superuser else principal.user.id
    return await repo.list_page(skip=skip, limit=limit, member_id=member_id)


async def get_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> Organization:
    """Non-members get 403 whether or not the organization exists, so ids do not leak."""
    repo = OrganizationRepository(session)
    await _require_member(session, principal, organization_id)
    organization = await repo.get(organization_id)
    if organization is None:
        raise NotFound("Organization not found")
    return organization


async def _require_member(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> OrganizationMember | None:
    if principal.api_key is not None and principal.api_key.organization_id != organization_id:
        raise Forbidden()
    if principal.is_superuser:
        return None
    membership = await OrganizationRepository(session).get_membership(
        organization_id, principal.user.id
    )
    if membership is None:
        raise Forbidden()
    return membership


async def _require_owner(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> None:
    membership = await _require_member(session, principal, organization_id)
    if principal.api_key is not None or (
        membership is not None and membership.role != OrganizationRole.OWNER
    ):
        raise Forbidden("Only organization owners can manage members")


async def list_members(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    *,
    skip: int,
    limit: int,
) -> tuple[list[tuple[OrganizationMember, User]], int]:
    await get_organization(session, principal, organization_id)
    return await OrganizationRepository(session).list_members(
        organization_id, skip=skip, limit=limit
    )


async def add_member(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    data: OrganizationMemberCreate,
) -> tuple[OrganizationMember, User]:
    await _require_owner(session, principal, organization_id)
    if await OrganizationRepository(session).get(organization_id) is None:
        raise NotFound("Organization not found")
    users = UserRepository(session)
    if data.user_id is not None:
        user = await users.get(data.user_id)
    elif data.email:
        user = await users.get_by_email(data.email)
    else:
        raise BadRequest("Give user_id or email")
    if user is None:
        raise NotFound("User not found")
    repo = OrganizationRepository(session)
    if await repo.get_membership(organization_id, user.id) is not None:
        raise Conflict(ALREADY_MEMBER)
    try:
        member = await repo.add_member(
            OrganizationMember(organization_id=organization_id, user_id=user.id, role=data.role)
        )
    except IntegrityError as exc:
        # Added by a concurrent request since the check above.
        raise Conflict(ALREADY_MEMBER) from exc
    return member, user


async def remove_member(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    is_self = principal.user.id == user_id and principal.api_key is None
    if not is_self:
        await _require_owner(session, principal, organization_id)
    else:
        await _require_member(session, principal, organization_id)
    repo = OrganizationRepository(session)
    # Two owners leaving at once would each see the other still there.
    await repo.lock(organization_id)
    membership = await repo.get_membership(organization_id, user_id)
    if membership is None:
        raise NotFound("Membership not found")
    if membership.role == OrganizationRole.OWNER and await repo.count_owners(organization_id) <= 1:
        raise BadRequest("An organization must keep at least one owner")
    await repo.remove_member(membership)

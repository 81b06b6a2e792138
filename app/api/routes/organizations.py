from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.api.deps import CurrentPrincipal, LimitQuery, SessionDep, SkipQuery
from app.api.idempotency import Idempotent
from app.models.common import Message
from app.models.organization import (
    OrganizationCreate,
    OrganizationMemberCreate,
    OrganizationMemberPublic,
    OrganizationMembersPublic,
    OrganizationPublic,
    OrganizationsPublic,
)
from app.services import organizations as service

router = APIRouter(prefix="/organizations", tags=["organizations"])


@router.get("/")
async def read_organizations(
    session: SessionDep, principal: CurrentPrincipal, skip: SkipQuery = 0, limit: LimitQuery = 100
) -> OrganizationsPublic:
    """Organizations you belong to (every organization for a superuser)."""
    rows, count = await service.list_organizations(session, principal, skip=skip, limit=limit)
    return OrganizationsPublic(
        data=[OrganizationPublic.model_validate(o) for o in rows], count=count
    )


@router.post("/", status_code=201, dependencies=[Idempotent])
async def create_organization(
    session: SessionDep, principal: CurrentPrincipal, organization_in: OrganizationCreate
) -> OrganizationPublic:
    """Create an organization; its creator becomes its owner."""
    organization = await service.create_organization(session, principal, organization_in)
    return OrganizationPublic.model_validate(organization)


@router.get("/{organization_id}")
async def read_organization(
    session: SessionDep, principal: CurrentPrincipal, organization_id: uuid.UUID
) -> OrganizationPublic:
    """Get an organization you belong to."""
    organization = await service.get_organization(session, principal, organization_id)
    return OrganizationPublic.model_validate(organization)


def _member_public(member: object, user: object) -> OrganizationMemberPublic:
    return OrganizationMemberPublic(
        organization_id=member.organization_id,  # type: ignore[attr-defined]
        user_id=user.id,  # type: ignore[attr-defined]
        email=user.email,  # type: ignore[attr-defined]
        full_name=user.full_name,  # type: ignore[attr-defined]
        role=member.role,  # type: ignore[attr-defined]
        created_at=member.created_at,  # type: ignore[attr-defined]
    )


@router.get("/{organization_id}/members")
async def read_organization_members(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: uuid.UUID,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
) -> OrganizationMembersPublic:
    """Members of an organization you belong to."""
    rows, count = await service.list_members(
        session, principal, organization_id, skip=skip, limit=limit
    )
    return OrganizationMembersPublic(data=[_member_public(m, u) for m, u in rows], count=count)


@router.post("/{organization_id}/members", status_code=201)
async def add_organization_member(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: uuid.UUID,
    member_in: OrganizationMemberCreate,
) -> OrganizationMemberPublic:
    """Add a user (by id or email) to the organization. Owners only."""
    member, user = await service.add_member(session, principal, organization_id, member_in)
    return _member_public(member, user)


@router.delete("/{organization_id}/members/{user_id}")
async def remove_organization_member(
    session: SessionDep, principal: CurrentPrincipal, organization_id: uuid.UUID, user_id: uuid.UUID
) -> Message:
    """Remove a member (owners), or leave the organization yourself."""
    await service.remove_member(session, principal, organization_id, user_id)
    return Message(message="Member removed")

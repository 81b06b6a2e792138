from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import security
from app.core.errors import Forbidden, NotFound
from app.models.api_key import ApiKey, ApiKeyCreate
from app.models.organization import OrganizationRole
from app.repositories.api_keys import ApiKeyRepository
from app.repositories.organizations import OrganizationRepository
from app.services.auth import Principal
from app.services.tenancy import OwnerScope, is_member


async def create_api_key(
    session: AsyncSession, principal: Principal, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    if principal.api_key is not None:
        raise Forbidden("API keys cannot create API keys")
    if data.organization_id is not None and not await is_member(
        session, data.organization_id, principal.user.id
    ):
        raise Forbidden()
    key, prefix, digest = security.generate_api_key()
    api_key = ApiKey(
        name=data.name,
        prefix=prefix,
        key_hash=digest,
        owner_id=principal.user.id,
        organization_id=data.organization_id,
    )
    return await ApiKeyRepository(session).add(api_key), key


async def list_api_keys(
    session: AsyncSession, scope: OwnerScope, *, skip: int, limit: int
) -> tuple[list[ApiKey], int]:
    # Personal keys are visible to their owner only; an organization's keys to its members.
    owner = None if scope.organization_id is not None else scope.user_id
    return await ApiKeyRepository(session).list_page(
        skip=skip, limit=limit, organization_id=scope.organization_id, owner_id=owner
    )


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    repo = ApiKeyRepository(session)
    api_key = await repo.get(key_id)
    if api_key is None or not await _may_manage(session, principal, api_key):
        raise NotFound("API key not found")
    if api_key.revoked_at is None:
        api_key.revoked_at = datetime.now(UTC)
        session.add(api_key)
        await session.flush()
    return api_key


async def _may_manage(session: AsyncSession, principal: Principal, api_key: ApiKey) -> bool:
    if principal.api_key is not None:
        # A key acts only within its organization (or its owner's personal space): it may
        # revoke its owner's keys there, and no others.
        return (
            api_key.owner_id == principal.user.id
            and api_key.organization_id == principal.api_key.organization_id
        )
    if principal.is_superuser or api_key.owner_id == principal.user.id:
        return True
    if api_key.organization_id is None:
        return False
    membership = await OrganizationRepository(session).get_membership(
        api_key.organization_id, principal.user.id
    )
    return membership is not None and membership.role == OrganizationRole.OWNER

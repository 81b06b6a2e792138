from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.api.deps import CurrentPrincipal, LimitQuery, OwnerScopeDep, SessionDep, SkipQuery
from app.models.api_key import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ApiKeysPublic
from app.services import api_keys as service

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.get("/")
async def read_api_keys(
    session: SessionDep, scope: OwnerScopeDep, skip: SkipQuery = 0, limit: LimitQuery = 100
) -> ApiKeysPublic:
    """API keys of the organization (`organization_id`), or your personal keys. Secrets are never shown."""
    rows, count = await service.list_api_keys(session, scope, skip=skip, limit=limit)
    return ApiKeysPublic(data=[ApiKeyPublic.model_validate(k) for k in rows], count=count)


@router.post("/", status_code=201)
async def create_api_key(
    session: SessionDep, principal: CurrentPrincipal, key_in: ApiKeyCreate
) -> ApiKeyCreated:
    """Create an API key, sent as `X-API-Key`. The secret is shown only in this response."""
    api_key, secret = await service.create_api_key(session, principal, key_in)
    return ApiKeyCreated.model_validate(api_key, update={"key": secret})


@router.delete("/{key_id}")
async def revoke_api_key(
    session: SessionDep, principal: CurrentPrincipal, key_id: uuid.UUID
) -> ApiKeyPublic:
    """Revoke an API key (its creator, an owner of its organization, or a superuser)."""
    return ApiKeyPublic.model_validate(await service.revoke_api_key(session, principal, key_id))

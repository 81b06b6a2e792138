"""Request-scoped dependencies as `Annotated` aliases: session, settings, caller, tenancy scope."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from app.api.rate_limit import count_request
from app.core.config import Settings
from app.core.config import settings as default_settings
from app.core.db import Database
from app.core.errors import Forbidden
from app.models.user import User
from app.pipeline.runtime import GenerationRuntime
from app.services import auth
from app.services.auth import Principal
from app.services.tenancy import OwnerScope, resolve_scope_in

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=f"{default_settings.API_V1_STR}/login/access-token", auto_error=False
)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="APIKeyHeader")


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def`
# dependency in the thread pool, a thread hand-off per request for a dictionary lookup.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_database(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


async def provide_database(request: Request) -> Database:
    return get_database(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one session, one transaction: committed on success, rolled back on error."""
    session = get_database(request).sessionmaker()
    try:
        yield session
        # Nothing began (the request read through the driver pool, or not at all): a commit
        # would only be a greenlet round trip. Adding an object begins a transaction.
        if session.in_transaction():
            await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        # Likewise close(): a session that never began and holds no objects has nothing to
        # release or detach.
        if session.in_transaction() or session.identity_map:
            await session.close()


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For endpoints that only read with a single statement: no transaction round trips."""
    async with get_database(request).read_sessionmaker() as session:
        yield session


# scope="function": the session is closed before the response is sent, so a pool sized for
# the concurrency is never held by requests that are only writing their response.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
# For repositories that take their connection themselves (the hot public reads).
DatabaseDep = Annotated[Database, Depends(provide_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]
ApiKeyDep = Annotated[str | None, Depends(api_key_scheme)]


# FastAPI walks a dependency's whole sub-tree again wherever it is used, cached or not, and
# the principal is used two or three times per request: it takes no session (it reads through
# the database itself) and the database and settings are read off the app, so its sub-tree is
# only the two credential schemes, which the OpenAPI document needs.
async def get_current_principal(request: Request, token: TokenDep, api_key: ApiKeyDep) -> Principal:
    """The authenticated caller, counted against the budget of the route's group."""
    state = request.app.state
    principal = await auth.authenticate(state.db, state.settings, token, api_key)
    await count_request(request, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


async def get_current_user(session: SessionDep, principal: CurrentPrincipal) -> User:
    # Routes taking the user may change it (`/users/me`): it must belong to their session.
    return auth.attach_user(session, principal)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_account_user(session: SessionDep, principal: CurrentPrincipal) -> User:
    """The caller, for changes to the account itself (email, password): only in person, as
    an API key acts only within its organization."""
    if principal.api_key is not None:
        raise Forbidden("API keys cannot change the account; sign in to do that")
    return auth.attach_user(session, principal)


AccountUser = Annotated[User, Depends(get_account_user)]


async def get_current_active_superuser(session: SessionDep, principal: CurrentPrincipal) -> User:
    if not principal.is_superuser:
        raise Forbidden("Not enough permissions")
    return auth.attach_user(session, principal)


CurrentSuperuser = Annotated[User, Depends(get_current_active_superuser)]

OrganizationIdQuery = Annotated[
    uuid.UUID | None,
    Query(description="Organization whose rows to act on; omit for your personal rows"),
]


async def get_owner_scope(
    request: Request, principal: CurrentPrincipal, organization_id: OrganizationIdQuery = None
) -> OwnerScope:
    # No session either: a membership check reads through the database on its own.
    return await resolve_scope_in(request.app.state.db, principal, organization_id)


OwnerScopeDep = Annotated[OwnerScope, Depends(get_owner_scope)]

# OFFSET is a signed 64-bit integer in both databases.
MAX_SKIP = 2**63 - 1
SkipQuery = Annotated[int, Query(ge=0, le=MAX_SKIP)]
LimitQuery = Annotated[int, Query(ge=1, le=1000)]


async def get_runtime(request: Request) -> GenerationRuntime:
    return request.app.state.generation_runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[GenerationRuntime, Depends(get_runtime)]

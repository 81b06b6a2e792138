"""Who is calling: login, bearer tokens and API keys resolved to a `Principal`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import security
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import BadRequest, Forbidden, Unauthorized
from app.models.api_key import ApiKey
from app.models.user import User
from app.repositories import users as user_rows
from app.repositories.api_keys import ApiKeyRepository
from app.repositories.organizations import OrganizationRepository
from app.repositories.users import UserRepository

# Writing last_used_at on every call would turn each read into a write; a minute is precise enough.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    user: User
    api_key: ApiKey | None = None

    @property
    def is_superuser(self) -> bool:
        # Machine credentials never carry superuser rights.
        return self.user.is_superuser and self.api_key is None


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_in: int


async def login(session: AsyncSession, settings: Settings, email: str, password: str) -> Token:
    users = UserRepository(session)
    user = await users.get_by_email(email)
    valid, new_hash = await security.verify_password_async(
        password, user.hashed_password if user else None
    )
    if user is None or not valid:
        raise Unauthorized("Incorrect email or password")
    if not user.is_active:
        raise BadRequest("Inactive user")
    if new_hash:
        user.hashed_password = new_hash
        session.add(user)
    expires = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    token = security.create_access_token(
        str(user.id), expires, settings.secret_key, user.password_changed_at
    )
    return Token(access_token=token, expires_in=int(expires.total_seconds()))


async def authenticate(
    db: Database, settings: Settings, token: str | None, api_key: str | None
) -> Principal:
    """The caller an API key (first) or a bearer token names."""
    if api_key:
        return await principal_from_api_key(db, api_key)
    if token:
        return await principal_from_token(db, settings, token)
    raise Unauthorized("Not authenticated")


async def principal_from_token(db: Database, settings: Settings, token: str) -> Principal:
    """The token's user, read afresh on every request (`is_active`, `is_superuser` are never
    remembered), outside the request's session: `Principal.user` is detached (see
    `attach_user`). On PostgreSQL the row comes straight from the driver pool."""
    try:
        claims = security.decode_access_token(token, settings.secret_key)
        user_id = uuid.UUID(claims.subject)
    except (security.InvalidTokenError, ValueError) as exc:
        raise Unauthorized("Could not validate credentials") from exc
    pool = await db.driver_pool()
    if pool is not None:
        user = await user_rows.get_detached(pool, user_id)
    else:
        async with db.read_sessionmaker() as session:
            user = await UserRepository(session).get(user_id)
    if user is None:
        raise Unauthorized("Could not validate credentials")
    # A password change signs out every token issued before it.
    if claims.password_version != security.password_version(user.password_changed_at):
        raise Unauthorized("The password has changed since this token was issued")
    if not user.is_active:
        raise BadRequest("Inactive user")
    return Principal(user=user)


def attach_user(session: AsyncSession, principal: Principal) -> User:
    """The principal's user as part of `session`, for routes that change it or compare it
    with rows the session loads. A detached user joins as persistent and clean (no query);
    one the session already holds is returned as is."""
    user = principal.user
    if user not in session:
        session.add(user)
    return user


async def principal_from_api_key(db: Database, key: str) -> Principal:
    """The key and its owner, read outside the request's session (like a token's,
    `Principal.user` is detached: see `attach_user`). Each statement commits on its own, so
    the key's use is recorded whatever becomes of the request."""
    async with db.autocommit_sessionmaker() as session:
        return await _principal_from_api_key(session, key)


async def _principal_from_api_key(session: AsyncSession, key: str) -> Principal:
    repo = ApiKeyRepository(session)
    found = await repo.get_active_with_owner(security.api_key_digest(key))
    if found is None:
        raise Unauthorized("Could not validate credentials")
    api_key, user = found
    if not user.is_active:
        raise BadRequest("Inactive user")
    if api_key.organization_id is not None:
        membership = await OrganizationRepository(session).get_membership(
            api_key.organization_id, user.id
        )
        if membership is None:
            raise Forbidden("The key's owner is no longer a member of its organization")
    now = datetime.now(UTC)
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        await repo.touch(api_key.id, now)
    return Principal(user=user, api_key=api_key)

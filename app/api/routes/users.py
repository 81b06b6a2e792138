from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from app.api.deps import (
    AccountUser,
    CurrentPrincipal,
    CurrentSuperuser,
    CurrentUser,
    LimitQuery,
    RuntimeDep,
    SessionDep,
    SkipQuery,
)
from app.core.errors import Forbidden
from app.models.common import Message
from app.models.user import (
    UpdatePassword,
    UserCreate,
    UserPublic,
    UsersPublic,
    UserUpdate,
    UserUpdateMe,
)
from app.services import users as service

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/")
async def read_users(
    session: SessionDep,
    _: CurrentSuperuser,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    search: str | None = Query(default=None, max_length=255),
) -> UsersPublic:
    """Retrieve users. Admin only."""
    rows, count = await service.list_users(session, skip=skip, limit=limit, search=search)
    return UsersPublic(data=[UserPublic.model_validate(u) for u in rows], count=count)


@router.post("/", status_code=201)
async def create_user(session: SessionDep, _: CurrentSuperuser, user_in: UserCreate) -> UserPublic:
    """Create new user. Admin only."""
    return UserPublic.model_validate(await service.create_user(session, user_in))


@router.get("/me")
async def read_user_me(current_user: CurrentUser) -> UserPublic:
    """Get current user."""
    return UserPublic.model_validate(current_user)


@router.patch("/me")
async def update_user_me(
    session: SessionDep, current_user: AccountUser, user_in: UserUpdateMe
) -> UserPublic:
    """Update own user."""
    return UserPublic.model_validate(await service.update_me(session, current_user, user_in))


@router.patch("/me/password")
async def update_password_me(
    session: SessionDep, current_user: AccountUser, body: UpdatePassword
) -> Message:
    """Update own password."""
    await service.change_password(session, current_user, body)
    return Message(message="Password updated successfully")


@router.get("/{user_id}")
async def read_user_by_id(
    session: SessionDep, principal: CurrentPrincipal, user_id: uuid.UUID
) -> UserPublic:
    """Get a specific user by id: yourself, or anyone for a superuser."""
    if user_id == principal.user.id:
        return UserPublic.model_validate(principal.user)
    if not principal.is_superuser:
        raise Forbidden("Not enough permissions")
    return UserPublic.model_validate(await service.get_user(session, user_id))


@router.patch("/{user_id}")
async def update_user(
    session: SessionDep, _: CurrentSuperuser, user_id: uuid.UUID, user_in: UserUpdate
) -> UserPublic:
    """Update a user. Admin only."""
    user = await service.get_user(session, user_id)
    return UserPublic.model_validate(await service.update_user(session, user, user_in))


@router.delete("/{user_id}")
async def delete_user(
    session: SessionDep, current_user: CurrentSuperuser, runtime: RuntimeDep, user_id: uuid.UUID
) -> Message:
    """Delete a user, with their generations and stored files. Admin only."""
    await service.delete_user(session, current_user, user_id, runtime)
    return Message(message="User deleted successfully")

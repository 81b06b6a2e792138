from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import security
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.models.user import UpdatePassword, User, UserCreate, UserUpdate, UserUpdateMe
from app.pipeline.runtime import GenerationRuntime
from app.repositories.generations import GenerationRepository
from app.repositories.organizations import OrganizationRepository
from app.repositories.users import UserRepository
from app.services.generations import discard_deleted

EMAIL_TAKEN = "The user with this email already exists in the system"


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    users = UserRepository(session)
    if await users.get_by_email(data.email) is not None:
        raise Conflict(EMAIL_TAKEN)
    hashed = await security.hash_password_async(data.password)
    user = User.model_validate(
        data, update={"hashed_password": hashed, "email": data.email.lower()}
    )
    return await _save(session, user)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise NotFound("User not found")
    return user


async def list_users(
    session: AsyncSession, *, skip: int, limit: int, search: str | None
) -> tuple[list[User], int]:
    return await UserRepository(session).list_page(skip=skip, limit=limit, search=search)


async def _ensure_email_free(session: AsyncSession, email: str, user: User) -> None:
    existing = await UserRepository(session).get_by_email(email)
    if existing is not None and existing.id != user.id:
        raise Conflict(EMAIL_TAKEN)


async def _save(session: AsyncSession, user: User) -> User:
    try:
        return await UserRepository(session).add(user)
    except IntegrityError as exc:
        # The only unique value a change can collide on: an email taken since the check.
        raise Conflict(EMAIL_TAKEN) from exc


async def update_user(session: AsyncSession, user: User, data: UserUpdate) -> User:
    changes = data.model_dump(exclude_unset=True)
    if "email" in changes and changes["email"] is not None:
        changes["email"] = changes["email"].lower()
        await _ensure_email_free(session, changes["email"], user)
    password = changes.pop("password", None)
    if password is not None:
        changes["hashed_password"] = await security.hash_password_async(password)
        changes["password_changed_at"] = datetime.now(UTC)
    for field in ("email", "is_active", "is_superuser"):
        if field in changes and changes[field] is None:
            raise BadRequest(f"{field} cannot be null")
    user.sqlmodel_update(changes)
    return await _save(session, user)


async def update_me(session: AsyncSession, user: User, data: UserUpdateMe) -> User:
    changes = data.model_dump(exclude_unset=True)
    if "email" in changes:
        if changes["email"] is None:
            raise BadRequest("email cannot be null")
        changes["email"] = changes["email"].lower()
        await _ensure_email_free(session, changes["email"], user)
    user.sqlmodel_update(changes)
    return await _save(session, user)


async def change_password(session: AsyncSession, user: User, data: UpdatePassword) -> None:
    valid, _ = await security.verify_password_async(data.current_password, user.hashed_password)
    if not valid:
        raise BadRequest("Incorrect password")
    if data.current_password == data.new_password:
        raise BadRequest("New password cannot be the same as the current one")
    user.hashed_password = await security.hash_password_async(data.new_password)
    user.password_changed_at = datetime.now(UTC)
    session.add(user)
    await session.flush()


async def delete_user(
    session: AsyncSession, actor: User, user_id: uuid.UUID, runtime: GenerationRuntime
) -> None:
    user = await get_user(session, user_id)
    if user.id == actor.id:
        raise Forbidden("Super users are not allowed to delete themselves")
    # An organization without an owner could no longer be managed by its members. Their
    # rows are locked first (in id order, as membership changes lock them), so that an
    # owner leaving meanwhile cannot make this user the last one unseen.
    organizations = OrganizationRepository(session)
    sole: list[str] = []
    for organization_id in await organizations.owned_by(user.id):
        await organizations.lock(organization_id)
        organization = await organizations.get(organization_id)
        if organization and await organizations.count_owners(organization_id) == 1:
            sole.append(organization.name)
    if sole:
        raise Conflict(
            f"The user is the only owner of {', '.join(sole)}: add another owner or delete it first"
        )
    # Their generations go with them (a cascade): their files too, once that has committed.
    generation_ids, prediction_ids = await GenerationRepository(session).ids_owned_by(user.id)
    await UserRepository(session).delete(user)
    await session.commit()
    await discard_deleted(runtime, generation_ids, prediction_ids)

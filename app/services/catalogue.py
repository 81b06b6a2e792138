"""Use cases shared by every catalogue resource: scoped list/get/create/update/delete.

Each resource is described by a `CatalogueKind` (its table, label, and the checks of the
entities it references); the rules are the same for all of them:
- reads are limited to the caller's `OwnerScope` (public rows too, where the table has them);
- writes need the row to be in the caller's scope: a public row of someone else is readable,
  not writable (403);
- slugs are unique per owner (per organization, or per user for personal rows) -> 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models.catalogue_base import slugify
from app.repositories.catalogue import CatalogueRepository, DuplicateRow
from app.services.tenancy import OwnerScope

T = TypeVar("T", bound=SQLModel)

# (session, scope, values about to be written) -> None; raises InvalidInput for bad references.
ReferenceCheck = Callable[[AsyncSession, OwnerScope, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class CatalogueKind(Generic[T]):
    model: type[T]
    label: str  # "Subject", "Shot type", …
    has_slug: bool = True
    # Fields that may be omitted on update but never set to null.
    required: tuple[str, ...] = ("name",)
    check_references: ReferenceCheck | None = None
    # Fields only superusers may set to a truthy value (publishing rows to everyone).
    superuser_fields: tuple[str, ...] = ()
    # Turns API values into column values (e.g. UUID lists into JSON strings).
    to_columns: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda values: values)

    @property
    def not_found(self) -> str:
        return f"{self.label} not found"

    def repository(self, session: AsyncSession) -> CatalogueRepository[T]:
        return CatalogueRepository(session, self.model)


async def list_rows(
    session: AsyncSession, kind: CatalogueKind[T], scope: OwnerScope, *, skip: int, limit: int
) -> tuple[list[T], int]:
    return await kind.repository(session).list_page(scope, skip=skip, limit=limit)


async def get_row(
    session: AsyncSession, kind: CatalogueKind[T], scope: OwnerScope, row_id: uuid.UUID
) -> T:
    row = await kind.repository(session).get_visible(scope, row_id)
    if row is None:
        raise NotFound(kind.not_found)
    return row


async def _check_slug(
    repo: CatalogueRepository[T],
    kind: CatalogueKind[T],
    slug: str,
    *,
    owner_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    exclude_id: uuid.UUID | None = None,
) -> None:
    if await repo.slug_taken(
        slug, owner_id=owner_id, organization_id=organization_id, exclude_id=exclude_id
    ):
        raise Conflict(f"A {kind.label.lower()} with slug '{slug}' already exists")


def _check_superuser_fields(
    kind: CatalogueKind[T], values: dict[str, Any], is_superuser: bool
) -> None:
    if is_superuser:
        return
    for name in kind.superuser_fields:
        if values.get(name):
            raise Forbidden(f"Only superusers may set {name} on a {kind.label.lower()}")


async def create_row(
    session: AsyncSession,
    kind: CatalogueKind[T],
    scope: OwnerScope,
    data: SQLModel,
    *,
    is_superuser: bool = False,
) -> T:
    repo = kind.repository(session)
    values = data.model_dump()
    _check_superuser_fields(kind, values, is_superuser)
    if kind.has_slug:
        values["slug"] = values.get("slug") or slugify(values["name"])
        await _check_slug(
            repo,
            kind,
            values["slug"],
            owner_id=scope.user_id,
            organization_id=scope.organization_id,
        )
    if kind.check_references is not None:
        await kind.check_references(session, scope, values)
    row = kind.model(
        **kind.to_columns(values),
        owner_id=scope.user_id,
        organization_id=scope.organization_id,
    )
    try:
        return await repo.save(row)
    except DuplicateRow as exc:
        raise Conflict(f"A {kind.label.lower()} with that slug already exists") from exc


async def _writable(
    session: AsyncSession, kind: CatalogueKind[T], scope: OwnerScope, row_id: uuid.UUID
) -> T:
    row = await get_row(session, kind, scope, row_id)
    owner_id: uuid.UUID = row.owner_id  # type: ignore[attr-defined]
    organization_id: uuid.UUID | None = row.organization_id  # type: ignore[attr-defined]
    if not scope.can_see(owner_id, organization_id):
        # Readable because it is public, but it belongs to someone else.
        raise Forbidden(f"{kind.label} is read-only for you")
    return row


async def update_row(
    session: AsyncSession,
    kind: CatalogueKind[T],
    scope: OwnerScope,
    row_id: uuid.UUID,
    data: SQLModel,
    *,
    is_superuser: bool = False,
) -> T:
    row = await _writable(session, kind, scope, row_id)
    sent = data.model_dump(exclude_unset=True)
    _check_superuser_fields(kind, sent, is_superuser)
    for name in (*kind.required, "slug") if kind.has_slug else kind.required:
        if name in sent and sent[name] is None:
            raise InvalidInput.field(["body", name], "may not be null", None)
    repo = kind.repository(session)
    if kind.has_slug and "slug" in sent and sent["slug"] != row.slug:  # type: ignore[attr-defined]
        await _check_slug(
            repo,
            kind,
            sent["slug"],
            owner_id=row.owner_id,  # type: ignore[attr-defined]
            organization_id=row.organization_id,  # type: ignore[attr-defined]
            exclude_id=row_id,
        )
    if kind.check_references is not None:
        await kind.check_references(session, scope, sent)
    row.sqlmodel_update(kind.to_columns(sent))
    try:
        return await repo.save(row)
    except DuplicateRow as exc:
        raise Conflict(f"A {kind.label.lower()} with that slug already exists") from exc


async def delete_row(
    session: AsyncSession, kind: CatalogueKind[T], scope: OwnerScope, row_id: uuid.UUID
) -> None:
    row = await _writable(session, kind, scope, row_id)
    await kind.repository(session).delete(row)

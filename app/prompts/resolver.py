"""Entity references (ids and slugs) -> catalogue rows, with one query per entity kind.

The shooting look and the pose preset are read first because they bring references of
their own (the look's subject/products/style, the preset's shot type); then subjects,
products, styles and shot types are each fetched with a single `IN` query. A reference the
caller cannot see (unknown, or another organization's) is a 404 naming the request field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import NotFound
from app.models.catalogue_base import slugify
from app.models.pose_preset import PosePreset
from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.shot_type import ShotType
from app.models.style import Style
from app.models.subject import Subject
from app.repositories.catalogue import CatalogueRepository, find_visible_pooled
from app.repositories.shooting_looks import (
    LookWithEntities,
    get_look_with_entities,
    get_look_with_entities_pooled,
)
from app.services.tenancy import OwnerScope

T = TypeVar("T", bound=SQLModel)


@dataclass(frozen=True)
class Ref:
    """One reference from the request: the field it came from, and an id or a slug."""

    field: str
    id: uuid.UUID | None = None
    slug: str | None = None

    @classmethod
    def of(cls, field: str, id_: uuid.UUID | None, slug: str | None = None) -> Ref | None:
        if id_ is not None:
            return cls(field, id=id_)
        if slug and slug.strip():
            return cls(field, slug=slug.strip())
        return None

    @classmethod
    def shot_type(cls, field: str, value: str) -> Ref:
        """Shot types may be named by id, slug or name ("Full Body Front")."""
        try:
            return cls(field, id=uuid.UUID(value.strip()))
        except ValueError:
            return cls(field, slug=slugify(value))

    def describe(self) -> str:
        return f"{self.field}={self.id if self.id is not None else self.slug}"


@dataclass
class EntityRefs:
    subject: Ref | None = None
    product: Ref | None = None
    product2: Ref | None = None
    style: Ref | None = None
    shot_types: list[Ref] = field(default_factory=list)
    pose_preset_id: uuid.UUID | None = None
    pose_field: str = "pose_preset_id"
    shooting_look_id: uuid.UUID | None = None


@dataclass
class ResolvedEntities:
    subject: Subject | None = None
    product: Product | None = None
    product2: Product | None = None
    style: Style | None = None
    shot_types: list[ShotType] = field(default_factory=list)
    pose_preset: PosePreset | None = None
    shooting_look: ShootingLook | None = None
    extra_products: list[Product] = field(default_factory=list)


class EntitySource:
    """Where the rows come from: the caller's session, or, for a read-only request on
    PostgreSQL, the driver pool (no transaction, no ORM session work; detached rows).

    From the pool, one connection serves all of a request's queries (taken at the first,
    handed back by `release`): a pool round trip per query cost as much as a small query."""

    def __init__(self, session: AsyncSession, pool: asyncpg.Pool | None = None) -> None:
        self.session = session
        self.pool = pool
        self._connection: asyncpg.Connection | None = None

    async def _pooled(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        if self._connection is None:
            self._connection = await pool.acquire()
        return self._connection

    async def release(self) -> None:
        if self.pool is not None and self._connection is not None:
            connection, self._connection = self._connection, None
            await self.pool.release(connection)

    async def find(
        self, scope: OwnerScope, model: type[T], ids: list[uuid.UUID], slugs: list[str]
    ) -> list[T]:
        if self.pool is not None:
            return await find_visible_pooled(
                await self._pooled(self.pool), model, scope, ids=ids, slugs=slugs
            )
        return await CatalogueRepository(self.session, model).find_visible(
            scope, ids=ids, slugs=slugs
        )

    async def look(self, scope: OwnerScope, look_id: uuid.UUID) -> LookWithEntities | None:
        if self.pool is not None:
            return await get_look_with_entities_pooled(
                await self._pooled(self.pool), scope, look_id
            )
        return await get_look_with_entities(self.session, scope, look_id)


def _not_found(label: str, ref: Ref) -> NotFound:
    return NotFound(f"{label} not found ({ref.describe()})")


def _owned_first(scope: OwnerScope, rows: Sequence[T]) -> list[T]:
    # A slug may match a public row and one of the caller's own: the caller's own wins.
    def foreign(row: Any) -> bool:
        return not scope.can_see(row.owner_id, row.organization_id)

    return sorted(rows, key=foreign)


def _match(scope: OwnerScope, rows: Sequence[T], ref: Ref, label: str) -> T:
    for row in _owned_first(scope, rows):
        values: Any = row
        if (ref.id is not None and values.id == ref.id) or (
            ref.slug is not None and values.slug == ref.slug
        ):
            return row
    raise _not_found(label, ref)


async def _fetch(
    source: EntitySource, scope: OwnerScope, model: type[T], refs: Sequence[Ref]
) -> list[T]:
    ids = [r.id for r in refs if r.id is not None]
    slugs = [r.slug for r in refs if r.slug is not None]
    return await source.find(scope, model, ids, slugs)


def _joined(row: T | None, label: str, field: str, value: uuid.UUID) -> T:
    if row is None:
        raise _not_found(label, Ref(field, id=value))
    return row


async def resolve_entities(
    session: AsyncSession,
    scope: OwnerScope,
    refs: EntityRefs,
    *,
    pool: asyncpg.Pool | None = None,
) -> ResolvedEntities:
    """`pool`: read through the driver pool instead of `session` (see `EntitySource`)."""
    source = EntitySource(session, pool)
    try:
        return await _resolve(source, scope, refs)
    finally:
        await source.release()


async def _resolve(source: EntitySource, scope: OwnerScope, refs: EntityRefs) -> ResolvedEntities:
    out = ResolvedEntities()
    # The look comes with its own subject, main product and style (one joined query).
    look_subject = look_product = look_style = None
    if refs.shooting_look_id is not None:
        ref = Ref("shooting_look_id", id=refs.shooting_look_id)
        found = await source.look(scope, refs.shooting_look_id)
        if found is None:
            raise _not_found("Shooting look", ref)
        out.shooting_look, look_subject, look_product, look_style = found
    if refs.pose_preset_id is not None:
        ref = Ref(refs.pose_field, id=refs.pose_preset_id)
        rows_p = await _fetch(source, scope, PosePreset, [ref])
        out.pose_preset = _match(scope, rows_p, ref, "Pose preset")
    look = out.shooting_look

    # The request's own references win over the look's.
    if refs.subject:
        out.subject = _match(
            scope, await _fetch(source, scope, Subject, [refs.subject]), refs.subject, "Subject"
        )
    elif look and look.subject_id:
        out.subject = _joined(look_subject, "Subject", "shooting_look.subject_id", look.subject_id)

    product_ref = refs.product
    if product_ref is None and look and look.main_product_id:
        out.product = _joined(
            look_product, "Product", "shooting_look.main_product_id", look.main_product_id
        )
    extra_refs = [
        Ref("shooting_look.extra_product_ids", id=uuid.UUID(value))
        for value in (look.extra_product_ids if look else [])
    ]
    product_refs = [r for r in (product_ref, refs.product2, *extra_refs) if r is not None]
    if product_refs:
        products = await _fetch(source, scope, Product, product_refs)
        if product_ref:
            out.product = _match(scope, products, product_ref, "Product")
        if refs.product2:
            out.product2 = _match(scope, products, refs.product2, "Product")
        # Extra products deleted since the look was saved are skipped, not an error.
        by_id = {p.id: p for p in products}
        out.extra_products = [by_id[r.id] for r in extra_refs if r.id in by_id]

    if refs.style:
        out.style = _match(
            scope, await _fetch(source, scope, Style, [refs.style]), refs.style, "Style"
        )
    elif look and look.style_id:
        out.style = _joined(look_style, "Style", "shooting_look.style_id", look.style_id)

    shot_refs = list(refs.shot_types)
    if not shot_refs and out.pose_preset is not None:
        shot_refs = [Ref(refs.pose_field, id=out.pose_preset.shot_type_id)]
    if shot_refs:
        shot_rows = await _fetch(source, scope, ShotType, shot_refs)
        resolved = [_match(scope, shot_rows, ref, "Shot type") for ref in shot_refs]
        out.shot_types = list({row.id: row for row in resolved}.values())
    return out

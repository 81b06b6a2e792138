"""Entity references (ids and slugs) -> catalogue rows, in at most two rounds of reads.

Everything the request names is read at once (on PostgreSQL, in one statement); the
shooting look and the pose preset bring references of their own (the look's extra products,
the preset's shot type), read in a second round only when there are some. Each kind is one
`IN` query: a subquery of the round's single statement on the driver pool, a statement of its
own in a session. A reference the
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

from app.core.db import Database
from app.core.errors import NotFound
from app.models.catalogue_base import slugify
from app.models.pose_preset import PosePreset
from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.shot_type import ShotType
from app.models.style import Style
from app.models.subject import Subject
from app.repositories.catalogue import CatalogueRepository
from app.repositories.catalogue_batch import Batch, Wanted, fetch_batch
from app.repositories.shooting_looks import get_look_with_entities
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

    From the pool, each `fetch` is one statement (see `fetch_batch`) on one connection, taken
    at the first and handed back by `release`: a round trip, or a pool checkout, per entity
    kind cost more than the queries themselves."""

    def __init__(self, session: AsyncSession | None, pool: asyncpg.Pool | None = None) -> None:
        assert session is not None or pool is not None
        self.session = session
        self.pool = pool
        self._connection: asyncpg.Connection | None = None

    async def release(self) -> None:
        if self.pool is not None and self._connection is not None:
            connection, self._connection = self._connection, None
            await self.pool.release(connection)

    async def fetch(
        self, scope: OwnerScope, wanted: Wanted, look_id: uuid.UUID | None = None
    ) -> Batch:
        """The visible rows of every kind in `wanted`, and the look `look_id` if visible."""
        if self.pool is not None:
            if self._connection is None:
                self._connection = await self.pool.acquire()
            return await fetch_batch(self._connection, scope, wanted, look_id)
        assert self.session is not None
        batch = Batch()
        if look_id is not None:
            batch.look = await get_look_with_entities(self.session, scope, look_id)
        for model, (ids, slugs) in wanted.items():
            repository = CatalogueRepository(self.session, model)
            batch.rows[model] = await repository.find_visible(scope, ids=ids, slugs=slugs)
        return batch


def _not_found(label: str, ref: Ref) -> NotFound:
    return NotFound(f"{label} not found ({ref.describe()})")


def _owned_first(scope: OwnerScope, rows: Sequence[T]) -> list[T]:
    # A slug may match one of the caller's own rows, a public one and, for a superuser who
    # sees every row, other owners' rows: the caller's own wins, then a public one.
    def rank(row: Any) -> int:
        if scope.owns(row.owner_id, row.organization_id):
            return 0
        return 1 if getattr(row, "public", False) else 2

    return sorted(rows, key=rank)


def _match(scope: OwnerScope, rows: Sequence[T], ref: Ref, label: str) -> T:
    for row in _owned_first(scope, rows):
        values: Any = row
        if (ref.id is not None and values.id == ref.id) or (
            ref.slug is not None and values.slug == ref.slug
        ):
            return row
    raise _not_found(label, ref)


def _wanted(refs: Sequence[Ref]) -> tuple[list[uuid.UUID], list[str]]:
    # No slug holds a NUL character (PostgreSQL refuses it as a parameter): not found.
    slugs = [r.slug for r in refs if r.slug is not None and "\x00" not in r.slug]
    return [r.id for r in refs if r.id is not None], slugs


def _joined(row: T | None, label: str, field: str, value: uuid.UUID) -> T:
    if row is None:
        raise _not_found(label, Ref(field, id=value))
    return row


async def resolve_entities(
    session: AsyncSession,
    scope: OwnerScope,
    refs: EntityRefs,
) -> ResolvedEntities:
    """The entities `refs` name, read in `session` (see `resolve_entities_in` for requests
    without one)."""
    return await _resolve_from(EntitySource(session), scope, refs)


async def resolve_entities_in(
    db: Database, scope: OwnerScope, refs: EntityRefs
) -> ResolvedEntities:
    """`resolve_entities` for a request without a session of its own: on the driver pool
    (PostgreSQL), else in a read session opened for it."""
    pool = await db.driver_pool()
    if pool is not None:
        return await _resolve_from(EntitySource(None, pool), scope, refs)
    async with db.read_sessionmaker() as session:
        return await _resolve_from(EntitySource(session), scope, refs)


async def _resolve_from(
    source: EntitySource, scope: OwnerScope, refs: EntityRefs
) -> ResolvedEntities:
    try:
        return await _resolve(source, scope, refs)
    finally:
        await source.release()


async def _resolve(source: EntitySource, scope: OwnerScope, refs: EntityRefs) -> ResolvedEntities:
    out = ResolvedEntities()
    # Everything the request names goes in one fetch; what the look and the pose preset name
    # in turn (extra products, the preset's shot type) in a second one, only when needed.
    product_refs = [r for r in (refs.product, refs.product2) if r is not None]
    pose_ref = None if refs.pose_preset_id is None else Ref(refs.pose_field, id=refs.pose_preset_id)
    wanted: dict[type[Any], tuple[list[uuid.UUID], list[str]]] = {}
    if pose_ref is not None:
        wanted[PosePreset] = _wanted([pose_ref])
    if refs.subject:
        wanted[Subject] = _wanted([refs.subject])
    if product_refs:
        wanted[Product] = _wanted(product_refs)
    if refs.style:
        wanted[Style] = _wanted([refs.style])
    if refs.shot_types:
        wanted[ShotType] = _wanted(refs.shot_types)
    batch = await source.fetch(scope, wanted, refs.shooting_look_id)

    # The look comes with its own subject, main product and style (joined in its query).
    look_subject = look_product = look_style = None
    if refs.shooting_look_id is not None:
        if batch.look is None:
            raise _not_found("Shooting look", Ref("shooting_look_id", id=refs.shooting_look_id))
        out.shooting_look, look_subject, look_product, look_style = batch.look
    if pose_ref is not None:
        out.pose_preset = _match(scope, batch.rows[PosePreset], pose_ref, "Pose preset")
    look = out.shooting_look

    extra_refs = [
        Ref("shooting_look.extra_product_ids", id=uuid.UUID(value))
        for value in (look.extra_product_ids if look else [])
    ]
    products = batch.rows.get(Product, [])
    known = {p.id for p in products}
    later: dict[type[Any], tuple[list[uuid.UUID], list[str]]] = {}
    if any(r.id not in known for r in extra_refs):
        later[Product] = _wanted([r for r in extra_refs if r.id not in known])
    shot_refs = list(refs.shot_types)
    if not shot_refs and out.pose_preset is not None:
        shot_refs = [Ref(refs.pose_field, id=out.pose_preset.shot_type_id)]
        later[ShotType] = _wanted(shot_refs)
    if later:
        more = await source.fetch(scope, later)
        products = products + more.rows.get(Product, [])
        batch.rows.setdefault(ShotType, []).extend(more.rows.get(ShotType, []))

    # The request's own references win over the look's.
    if refs.subject:
        out.subject = _match(scope, batch.rows[Subject], refs.subject, "Subject")
    elif look and look.subject_id:
        out.subject = _joined(look_subject, "Subject", "shooting_look.subject_id", look.subject_id)

    if refs.product:
        out.product = _match(scope, products, refs.product, "Product")
    elif look and look.main_product_id:
        out.product = _joined(
            look_product, "Product", "shooting_look.main_product_id", look.main_product_id
        )
    if refs.product2:
        out.product2 = _match(scope, products, refs.product2, "Product")
    # Extra products deleted since the look was saved are skipped, not an error.
    by_id = {p.id: p for p in products}
    out.extra_products = [by_id[r.id] for r in extra_refs if r.id in by_id]

    if refs.style:
        out.style = _match(scope, batch.rows[Style], refs.style, "Style")
    elif look and look.style_id:
        out.style = _joined(look_style, "Style", "shooting_look.style_id", look.style_id)

    if shot_refs:
        shot_rows = batch.rows.get(ShotType, [])
        resolved = [_match(scope, shot_rows, ref, "Shot type") for ref in shot_refs]
        out.shot_types = list({row.id: row for row in resolved}.values())
    return out

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.style import Style
from app.models.subject import Subject
from app.repositories.catalogue import CatalogueRepository
from app.services.tenancy import OwnerScope

LookWithEntities = tuple[ShootingLook, Subject | None, Product | None, Style | None]


async def get_look_with_entities(
    session: AsyncSession, scope: OwnerScope, look_id: uuid.UUID
) -> LookWithEntities | None:
    """A visible shooting look with its subject, main product and style, in one query.

    Each joined entity must be visible to the caller as well; one that is not comes back
    as None."""

    def visible(model: type[Subject] | type[Product] | type[Style]) -> ColumnElement[bool]:
        return CatalogueRepository(session, model).visible(scope)

    query = (
        select(ShootingLook, Subject, Product, Style)
        .select_from(ShootingLook)
        .outerjoin(Subject, and_(col(Subject.id) == ShootingLook.subject_id, visible(Subject)))
        .outerjoin(Product, and_(col(Product.id) == ShootingLook.main_product_id, visible(Product)))
        .outerjoin(Style, and_(col(Style.id) == ShootingLook.style_id, visible(Style)))
        .where(
            col(ShootingLook.id) == look_id,
            CatalogueRepository(session, ShootingLook).visible(scope),
        )
    )
    row = (await session.exec(query)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])

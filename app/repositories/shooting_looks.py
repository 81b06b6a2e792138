from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.style import Style
from app.models.subject import Subject
from app.repositories.catalogue import (
    visible_condition,
)
from app.services.tenancy import OwnerScope, ScopeShape

LookSelect = Select[ShootingLook, Subject, Product, Style]
LookWithEntities = tuple[ShootingLook, Subject | None, Product | None, Style | None]


def _look_statement(shape: ScopeShape) -> LookSelect:
    def visible(model: Any) -> Any:
        return visible_condition(model.__table__, shape)

    return (
        select(ShootingLook, Subject, Product, Style)
        .select_from(ShootingLook)
        .outerjoin(Subject, and_(col(Subject.id) == ShootingLook.subject_id, visible(Subject)))
        .outerjoin(Product, and_(col(Product.id) == ShootingLook.main_product_id, visible(Product)))
        .outerjoin(Style, and_(col(Style.id) == ShootingLook.style_id, visible(Style)))
        .where(col(ShootingLook.id) == bindparam("look_id"), visible(ShootingLook))
    )


# One prebuilt statement per scope shape: building the joins per request, and hashing them
# for SQLAlchemy's compiled cache, cost more than the query itself.
_LOOK_STATEMENTS: dict[ScopeShape, LookSelect] = {
    shape: _look_statement(shape) for shape in ("all", "organization", "personal")
}


async def get_look_with_entities(
    session: AsyncSession, scope: OwnerScope, look_id: uuid.UUID
) -> LookWithEntities | None:
    """A visible shooting look with its subject, main product and style, in one query.

    Each joined entity must be visible to the caller as well; one that is not comes back
    as None."""
    params = scope.params()
    params["look_id"] = look_id
    row = (await session.execute(_LOOK_STATEMENTS[scope.shape], params)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])

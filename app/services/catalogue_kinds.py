"""The catalogue resources, and the references each one checks before it is written."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import InvalidInput
from app.models.pose_preset import PosePreset
from app.models.product import Product
from app.models.shooting_look import ShootingLook
from app.models.shot_type import ShotType
from app.models.style import Style
from app.models.subject import Subject
from app.repositories.catalogue import CatalogueRepository
from app.services.catalogue import CatalogueKind
from app.services.tenancy import OwnerScope


async def _require_visible(
    session: AsyncSession,
    scope: OwnerScope,
    model: type[SQLModel],
    label: str,
    field: str,
    ids: list[uuid.UUID],
) -> None:
    if not ids:
        return
    found = await CatalogueRepository(session, model).find_visible(scope, ids=ids)
    missing = set(ids) - {row.id for row in found}  # type: ignore[attr-defined]
    if missing:
        first = next(value for value in ids if value in missing)
        raise InvalidInput.field(["body", field], f"{label} not found", str(first))


async def _check_pose_preset(
    session: AsyncSession, scope: OwnerScope, values: dict[str, Any]
) -> None:
    if values.get("shot_type_id") is not None:
        await _require_visible(
            session, scope, ShotType, "Shot type", "shot_type_id", [values["shot_type_id"]]
        )
    elif "shot_type_id" in values:
        raise InvalidInput.field(["body", "shot_type_id"], "may not be null", None)


async def _check_shooting_look(
    session: AsyncSession, scope: OwnerScope, values: dict[str, Any]
) -> None:
    for field, model, label in (
        ("subject_id", Subject, "Subject"),
        ("main_product_id", Product, "Product"),
        ("style_id", Style, "Style"),
    ):
        if values.get(field) is not None:
            await _require_visible(session, scope, model, label, field, [values[field]])
    extra = values.get("extra_product_ids")
    if extra:
        await _require_visible(session, scope, Product, "Product", "extra_product_ids", extra)


def _look_columns(values: dict[str, Any]) -> dict[str, Any]:
    if values.get("extra_product_ids") is not None:
        values = {**values, "extra_product_ids": [str(v) for v in values["extra_product_ids"]]}
    elif "extra_product_ids" in values:
        values = {**values, "extra_product_ids": []}
    return values


SUBJECTS = CatalogueKind(
    Subject, "Subject", required=("name", "type", "lora_weight", "lora_enabled")
)
PRODUCTS = CatalogueKind(Product, "Product", required=("name", "lora_weight"))
STYLES = CatalogueKind(Style, "Style", required=("name", "lora_weight"))
# A public shot type is readable (and resolvable by slug) by everyone: only superusers publish.
SHOT_TYPES = CatalogueKind(
    ShotType,
    "Shot type",
    required=("name", "framing", "view_angle", "public"),
    superuser_fields=("public",),
)
POSE_PRESETS = CatalogueKind(
    PosePreset,
    "Pose preset",
    has_slug=False,
    required=("name", "shot_type_id"),
    check_references=_check_pose_preset,
)
SHOOTING_LOOKS = CatalogueKind(
    ShootingLook,
    "Shooting look",
    has_slug=False,
    required=("name", "output_format"),
    check_references=_check_shooting_look,
    to_columns=_look_columns,
)

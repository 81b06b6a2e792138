"""The standard shot types every installation starts with (public, owned by the first superuser)."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models.catalogue_base import Framing, ViewAngle, slugify
from app.models.shot_type import ShotType

# (framing, view angle, prompt fragment, negative fragment)
STANDARD_SHOT_TYPES: list[tuple[Framing, ViewAngle, str, str | None]] = [
    (Framing.FULL_BODY, ViewAngle.FRONT, "full body shot from head to toe, front view", None),
    (
        Framing.FULL_BODY,
        ViewAngle.BACK,
        "full body shot from head to toe, back view, model facing away from the camera",
        "face, frontal view",
    ),
    (Framing.FULL_BODY, ViewAngle.SIDE, "full body shot from head to toe, side profile view", None),
    (Framing.UPPER_BODY, ViewAngle.FRONT, "upper body shot from the waist up, front view", None),
    (
        Framing.UPPER_BODY,
        ViewAngle.BACK,
        "upper body shot from the waist up, back view",
        "face, frontal view",
    ),
    (Framing.LOWER_BODY, ViewAngle.FRONT, "lower body shot from the waist down, front view", None),
    (
        Framing.LOWER_BODY,
        ViewAngle.BACK,
        "lower body shot from the waist down, back view",
        None,
    ),
    (
        Framing.UPPER_THREE_QUARTERS,
        ViewAngle.FRONT,
        "three-quarter shot from the head to mid-thigh, front view",
        None,
    ),
    (
        Framing.LOWER_THREE_QUARTERS,
        ViewAngle.FRONT,
        "three-quarter shot from the chest to the feet, front view",
        None,
    ),
    (Framing.DETAIL, ViewAngle.FRONT, "close-up detail shot of the garment, front view", None),
]


def standard_shot_types(owner_id: uuid.UUID) -> list[ShotType]:
    rows = []
    for framing, angle, prompt, negative in STANDARD_SHOT_TYPES:
        name = f"{framing.value} {angle.value}"
        rows.append(
            ShotType(
                name=name,
                slug=slugify(name),
                framing=framing,
                view_angle=angle,
                prompt=prompt,
                negative_prompt=negative,
                public=True,
                owner_id=owner_id,
                organization_id=None,
            )
        )
    return rows


async def seed_shot_types(session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Add the standard shot types the owner does not have yet (by slug)."""
    query = select(col(ShotType.slug)).where(
        col(ShotType.owner_id) == owner_id, col(ShotType.organization_id).is_(None)
    )
    existing = set((await session.exec(query)).all())
    for shot_type in standard_shot_types(owner_id):
        if shot_type.slug not in existing:
            session.add(shot_type)

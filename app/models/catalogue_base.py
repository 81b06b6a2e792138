"""Pieces shared by the organization-owned catalogue tables (subjects, products, styles, …).

Every row has an `owner_id` (its creator) and a nullable `organization_id` (none = a personal
row). Slugs are unique per owner: per organization for organization rows, per user for
personal rows; two partial unique indexes enforce it in the database as well.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from anyascii import anyascii
from sqlalchemy import Index, text
from sqlmodel import Field

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_MAX = 255


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    OTHER = "OTHER"
    UNISEX = "UNISEX"


class AgeClass(StrEnum):
    KID = "KID"
    TEEN = "TEEN"
    YOUNG = "YOUNG"
    MIDDLE_AGE = "MIDDLE_AGE"
    ELDER = "ELDER"


class SubjectType(StrEnum):
    AI = "AI"
    REAL = "REAL"


class ProductFamily(StrEnum):
    APPAREL = "APPAREL"
    FOOTWEAR = "FOOTWEAR"
    ACCESSORIES = "ACCESSORIES"
    BEAUTY = "BEAUTY"


class Framing(StrEnum):
    FULL_BODY = "Full Body"
    UPPER_BODY = "Upper Body"
    LOWER_BODY = "Lower Body"
    UPPER_THREE_QUARTERS = "Upper Three Quarters"
    LOWER_THREE_QUARTERS = "Lower Three Quarters"
    DETAIL = "Detail"


class ViewAngle(StrEnum):
    FRONT = "Front"
    BACK = "Back"
    SIDE = "Side"


class OutputFormat(StrEnum):
    JPG = "JPG"
    PNG = "PNG"
    WEBP = "WEBP"


def slugify(value: str) -> str:
    # Transliterated first: "Платье" and "连衣裙" would otherwise both be "item" (a 409 for
    # the second), "Été" would be "t".
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(value).lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or "item"


def owner_id_field() -> Any:
    return Field(foreign_key="user.id", ondelete="CASCADE", index=True)


def organization_id_field() -> Any:
    return Field(default=None, foreign_key="organization.id", ondelete="CASCADE", index=True)


def slug_indexes(table: str) -> tuple[Index, Index]:
    """Slug unique within an organization, and within a user's personal rows."""
    in_org = text("organization_id IS NOT NULL")
    personal = text("organization_id IS NULL")
    return (
        Index(
            f"uq_{table}_organization_slug",
            "organization_id",
            "slug",
            unique=True,
            postgresql_where=in_org,
            sqlite_where=in_org,
        ),
        Index(
            f"uq_{table}_owner_slug",
            "owner_id",
            "slug",
            unique=True,
            postgresql_where=personal,
            sqlite_where=personal,
        ),
    )


def slug_field(*, required: bool = False) -> Any:
    return Field(
        default=... if required else None,
        min_length=1,
        max_length=SLUG_MAX,
        schema_extra={"pattern": SLUG_PATTERN},
        description="Lower-case words joined by '-'; derived from the name when omitted",
    )

"""Shot types: framing + view angle, and the prompt fragment that asks for them.

The standard set is seeded on first start as public rows everyone can read; organizations
and users add their own (private unless `public`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, updated_at_field, uuid_pk
from app.models.catalogue_base import (
    Framing,
    ViewAngle,
    organization_id_field,
    owner_id_field,
    slug_field,
    slug_indexes,
)


class ShotTypeBase(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    framing: Framing = Field(sa_type=String(32))
    view_angle: ViewAngle = Field(default=ViewAngle.FRONT, sa_type=String(16))
    prompt: str | None = Field(
        default=None, max_length=2048, description="Prompt fragment asking for this shot"
    )
    negative_prompt: str | None = Field(default=None, max_length=2048)
    public: bool = Field(default=False, description="Readable by everyone when true")


class ShotTypeCreate(ShotTypeBase):
    slug: str | None = slug_field()


class ShotTypeUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    slug: str | None = slug_field()
    framing: Framing | None = None
    view_angle: ViewAngle | None = None
    prompt: str | None = Field(default=None, max_length=2048)
    negative_prompt: str | None = Field(default=None, max_length=2048)
    public: bool | None = None


class ShotType(ShotTypeBase, table=True):
    __tablename__ = "shot_type"
    __table_args__ = slug_indexes("shot_type")

    id: uuid.UUID = uuid_pk()
    slug: str = Field(max_length=255, index=True)
    owner_id: uuid.UUID = owner_id_field()
    organization_id: uuid.UUID | None = organization_id_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ShotTypePublic(ShotTypeBase):
    id: uuid.UUID
    slug: str
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ShotTypesPublic(SQLModel):
    data: list[ShotTypePublic]
    count: int

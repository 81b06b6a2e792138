"""Shooting looks: who wears what, in which style, light, background and output resolution."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, empty_list, updated_at_field, uuid_pk
from app.models.catalogue_base import OutputFormat, organization_id_field, owner_id_field
from app.models.generation_model import JSONType

MAX_EXTRA_PRODUCTS = 8


class ShootingLookBase(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    subject_id: uuid.UUID | None = Field(
        default=None, foreign_key="subject.id", ondelete="SET NULL"
    )
    main_product_id: uuid.UUID | None = Field(
        default=None, foreign_key="product.id", ondelete="SET NULL"
    )
    style_id: uuid.UUID | None = Field(default=None, foreign_key="style.id", ondelete="SET NULL")
    lighting: str | None = Field(default=None, max_length=1024)
    background: str | None = Field(default=None, max_length=1024)
    tone: str | None = Field(default=None, max_length=1024)
    resolution_width: int | None = Field(default=None, ge=64, le=8192)
    resolution_height: int | None = Field(default=None, ge=64, le=8192)
    output_format: OutputFormat = Field(default=OutputFormat.JPG, sa_type=String(8))
    outfit_instruction: str | None = Field(default=None, max_length=4096)


class ShootingLookCreate(ShootingLookBase):
    extra_product_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_EXTRA_PRODUCTS)


class ShootingLookUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    subject_id: uuid.UUID | None = None
    main_product_id: uuid.UUID | None = None
    extra_product_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_EXTRA_PRODUCTS)
    style_id: uuid.UUID | None = None
    lighting: str | None = Field(default=None, max_length=1024)
    background: str | None = Field(default=None, max_length=1024)
    tone: str | None = Field(default=None, max_length=1024)
    resolution_width: int | None = Field(default=None, ge=64, le=8192)
    resolution_height: int | None = Field(default=None, ge=64, le=8192)
    output_format: OutputFormat | None = None
    outfit_instruction: str | None = Field(default=None, max_length=4096)


class ShootingLook(ShootingLookBase, table=True):
    __tablename__ = "shooting_look"

    id: uuid.UUID = uuid_pk()
    # Stored as a JSON list of UUID strings: the look's outfit, in order.
    extra_product_ids: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSONType, nullable=False)
    )
    owner_id: uuid.UUID = owner_id_field()
    organization_id: uuid.UUID | None = organization_id_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ShootingLookPublic(ShootingLookBase):
    id: uuid.UUID
    extra_product_ids: list[uuid.UUID]
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ShootingLooksPublic(SQLModel):
    data: list[ShootingLookPublic]
    count: int

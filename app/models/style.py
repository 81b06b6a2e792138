"""Styles: a photographic look, optionally backed by a LoRA."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, updated_at_field, uuid_pk
from app.models.catalogue_base import (
    organization_id_field,
    owner_id_field,
    slug_field,
    slug_indexes,
)


class StyleBase(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=4096)
    lora_path: str | None = Field(default=None, max_length=2048)
    lora_trigger: str | None = Field(default=None, max_length=255)
    lora_weight: float = Field(default=0.7, ge=-2, le=2)


class StyleCreate(StyleBase):
    slug: str | None = slug_field()


class StyleUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    slug: str | None = slug_field()
    description: str | None = Field(default=None, max_length=4096)
    lora_path: str | None = Field(default=None, max_length=2048)
    lora_trigger: str | None = Field(default=None, max_length=255)
    lora_weight: float | None = Field(default=None, ge=-2, le=2)


class Style(StyleBase, table=True):
    __tablename__ = "style"
    __table_args__ = slug_indexes("style")

    id: uuid.UUID = uuid_pk()
    slug: str = Field(max_length=255)
    owner_id: uuid.UUID = owner_id_field()
    organization_id: uuid.UUID | None = organization_id_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class StylePublic(StyleBase):
    id: uuid.UUID
    slug: str
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class StylesPublic(SQLModel):
    data: list[StylePublic]
    count: int

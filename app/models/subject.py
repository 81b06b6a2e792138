"""Subjects: the models (AI-generated or real people) that wear the products."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, updated_at_field, uuid_pk
from app.models.catalogue_base import (
    AgeClass,
    Gender,
    SubjectType,
    organization_id_field,
    owner_id_field,
    slug_field,
    slug_indexes,
)


class SubjectBase(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    surname: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=4096)
    gender: Gender | None = Field(default=None, sa_type=String(16))
    age_class: AgeClass | None = Field(default=None, sa_type=String(16))
    type: SubjectType = Field(default=SubjectType.AI, sa_type=String(8))
    lora_path: str | None = Field(
        default=None, max_length=2048, description="LoRA weights: path or URL"
    )
    lora_trigger: str | None = Field(default=None, max_length=255)
    lora_weight: float = Field(default=1.0, ge=-2, le=2)
    lora_enabled: bool = True
    cover_image_url: str | None = Field(default=None, max_length=2048)


class SubjectCreate(SubjectBase):
    slug: str | None = slug_field()


class SubjectUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    surname: str | None = Field(default=None, max_length=255)
    slug: str | None = slug_field()
    description: str | None = Field(default=None, max_length=4096)
    gender: Gender | None = None
    age_class: AgeClass | None = None
    type: SubjectType | None = None
    lora_path: str | None = Field(default=None, max_length=2048)
    lora_trigger: str | None = Field(default=None, max_length=255)
    lora_weight: float | None = Field(default=None, ge=-2, le=2)
    lora_enabled: bool | None = None
    cover_image_url: str | None = Field(default=None, max_length=2048)


class Subject(SubjectBase, table=True):
    __tablename__ = "subject"
    __table_args__ = slug_indexes("subject")

    id: uuid.UUID = uuid_pk()
    slug: str = Field(max_length=255)
    owner_id: uuid.UUID = owner_id_field()
    organization_id: uuid.UUID | None = organization_id_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class SubjectPublic(SubjectBase):
    id: uuid.UUID
    slug: str
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class SubjectsPublic(SQLModel):
    data: list[SubjectPublic]
    count: int

"""Pose presets: a named pose for one shot type (prompt text and/or a pose image)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, updated_at_field, uuid_pk
from app.models.catalogue_base import organization_id_field, owner_id_field


class PosePresetBase(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    shot_type_id: uuid.UUID = Field(foreign_key="shot_type.id", ondelete="CASCADE", index=True)
    prompt: str | None = Field(default=None, max_length=2048)
    pose_image: str | None = Field(default=None, max_length=2048, description="Pose image URL")


class PosePresetCreate(PosePresetBase):
    pass


class PosePresetUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    shot_type_id: uuid.UUID | None = None
    prompt: str | None = Field(default=None, max_length=2048)
    pose_image: str | None = Field(default=None, max_length=2048)


class PosePreset(PosePresetBase, table=True):
    __tablename__ = "pose_preset"

    id: uuid.UUID = uuid_pk()
    owner_id: uuid.UUID = owner_id_field()
    organization_id: uuid.UUID | None = organization_id_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PosePresetPublic(PosePresetBase):
    id: uuid.UUID
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class PosePresetsPublic(SQLModel):
    data: list[PosePresetPublic]
    count: int

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import TZDateTime, created_at_field, updated_at_field, uuid_pk


class ApiKeyCreate(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    organization_id: uuid.UUID | None = Field(
        default=None, description="Organization the key acts for; none for a personal key"
    )


class ApiKey(SQLModel, table=True):
    """A machine credential. Only a SHA-256 digest of the secret is stored."""

    __tablename__ = "api_key"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=255)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    owner_id: uuid.UUID = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="organization.id", ondelete="CASCADE", index=True
    )
    last_used_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ApiKeyPublic(SQLModel):
    id: uuid.UUID
    name: str
    prefix: str
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret, shown only in this response")


class ApiKeysPublic(SQLModel):
    data: list[ApiKeyPublic]
    count: int

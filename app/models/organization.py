from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, updated_at_field, uuid_pk


class OrganizationRole(StrEnum):
    OWNER = "OWNER"
    MEMBER = "MEMBER"


class OrganizationBase(SQLModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1024)


class OrganizationCreate(OrganizationBase):
    pass


class Organization(OrganizationBase, table=True):
    __tablename__ = "organization"

    id: uuid.UUID = uuid_pk()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class OrganizationPublic(OrganizationBase):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class OrganizationsPublic(SQLModel):
    data: list[OrganizationPublic]
    count: int


class OrganizationMember(SQLModel, table=True):
    """Users <-> organizations, many-to-many."""

    __tablename__ = "organization_member"

    organization_id: uuid.UUID = Field(
        foreign_key="organization.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(
        foreign_key="user.id", primary_key=True, ondelete="CASCADE", index=True
    )
    # Stored as text, not a database enum: adding a role must not need a type migration.
    role: OrganizationRole = Field(default=OrganizationRole.MEMBER, sa_type=String(16))
    created_at: datetime = created_at_field()


class OrganizationMemberCreate(SQLModel):
    user_id: uuid.UUID | None = None
    email: str | None = Field(default=None, max_length=255)
    role: OrganizationRole = OrganizationRole.MEMBER


class OrganizationMemberPublic(SQLModel):
    organization_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    full_name: str | None
    role: OrganizationRole
    created_at: datetime


class OrganizationMembersPublic(SQLModel):
    data: list[OrganizationMemberPublic]
    count: int

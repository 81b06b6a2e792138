"""Idempotency keys: the first response to a (credential, key) pair, replayed for 24 h."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import TZDateTime, created_at_field, uuid_pk


class IdempotencyStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    # The unique pair is what makes concurrent duplicates safe: one insert wins, the
    # others find its row.
    __table_args__ = (UniqueConstraint("credential", "key"),)

    id: uuid.UUID = uuid_pk()
    credential: str = Field(max_length=64)
    key: str = Field(max_length=255)
    # SHA-256 of method, path, query and canonical body: a reused key with another request is a 409.
    fingerprint: str = Field(max_length=64)
    status: IdempotencyStatus = Field(sa_type=String(16))
    locked_until: datetime | None = Field(default=None, sa_type=TZDateTime)
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_type=Text)
    response_content_type: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=TZDateTime, index=True)

"""Organization webhook endpoints, their deliveries and every delivery attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlalchemy import String
from sqlmodel import Column, Field, SQLModel

from app.events.bus import EventType
from app.models.base import TZDateTime, created_at_field, empty_list, updated_at_field, uuid_pk
from app.models.generation_model import JSONType

# Sent to a new endpoint on request (POST /webhooks/{id}/ping), whatever its event filter.
PING_EVENT = "webhook.ping"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


def _unique_types(value: list[EventType] | None) -> list[EventType] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("choose at least one event type")
    return list(dict.fromkeys(value))


class WebhookEndpointBase(SQLModel):
    url: str = Field(max_length=2048, description="http(s) URL the events are POSTed to")
    description: str | None = Field(default=None, max_length=1024)
    is_active: bool = True


class WebhookEndpointCreate(WebhookEndpointBase):
    event_types: list[EventType] = Field(description="Events this endpoint receives")
    organization_id: uuid.UUID | None = Field(
        default=None, description="Organization whose events to receive; none for your own"
    )

    _types = field_validator("event_types")(_unique_types)


class WebhookEndpointUpdate(SQLModel):
    url: str | None = Field(default=None, max_length=2048)
    description: str | None = Field(default=None, max_length=1024)
    is_active: bool | None = None
    event_types: list[EventType] | None = None

    _types = field_validator("event_types")(_unique_types)


class WebhookEndpoint(WebhookEndpointBase, table=True):
    __tablename__ = "webhook_endpoint"

    id: uuid.UUID = uuid_pk()
    event_types: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSONType, nullable=False)
    )
    # Needed in clear to sign; shown to the client once, at creation, never logged.
    secret: str = Field(max_length=128)
    owner_id: uuid.UUID = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="organization.id", ondelete="CASCADE", index=True
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class WebhookEndpointPublic(WebhookEndpointBase):
    id: uuid.UUID
    event_types: list[str]
    owner_id: uuid.UUID
    organization_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str = Field(
        description="Signing secret (Standard Webhooks `whsec_…`), shown only in this response"
    )


class WebhookEndpointsPublic(SQLModel):
    data: list[WebhookEndpointPublic]
    count: int


class WebhookDelivery(SQLModel, table=True):
    """One message to one target; retried until it succeeds or its retry window closes.

    Endpoint deliveries have `endpoint_id`; per-request callbacks (`config.callback_url` of a
    generation) have none and carry their `url`.
    """

    __tablename__ = "webhook_delivery"

    id: uuid.UUID = uuid_pk()
    endpoint_id: uuid.UUID | None = Field(
        default=None, foreign_key="webhook_endpoint.id", ondelete="CASCADE", index=True
    )
    url: str | None = Field(default=None, max_length=2048)
    # A callback is signed with the callback secret of this scope (`CallbackSecret.scope`),
    # looked up when sent, so a rotation applies to retries still pending.
    signing_scope: str | None = Field(default=None, max_length=64)
    # One event reaches one target once, however many replicas saw it.
    dedupe_key: str = Field(max_length=255, unique=True)
    # `webhook-id`: the same on every attempt and manual re-send, so receivers can deduplicate.
    message_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    generation_id: uuid.UUID | None = Field(default=None, index=True)
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=String(16))
    attempt_count: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=TZDateTime, index=True)
    locked_until: datetime | None = Field(default=None, sa_type=TZDateTime)
    deadline: datetime = Field(sa_type=TZDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1024)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CallbackSecret(SQLModel, table=True):
    """The secret per-request callbacks of a scope (an organization, or a user's personal
    space) are signed with: there is no endpoint to hold one, and a secret per request
    would have to travel in the request, and be stored and shown with it."""

    __tablename__ = "callback_secret"

    id: uuid.UUID = uuid_pk()
    # "organization:<id>" or "user:<id>"; the columns below only tie its life to the owner's.
    scope: str = Field(max_length=64, unique=True)
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="organization.id", ondelete="CASCADE", index=True
    )
    user_id: uuid.UUID | None = Field(
        default=None, foreign_key="user.id", ondelete="CASCADE", index=True
    )
    # Needed in clear to sign, like an endpoint's; never logged.
    secret: str = Field(max_length=128)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CallbackSecretPublic(SQLModel):
    secret: str = Field(
        description="Standard Webhooks `whsec_…` secret that signs this scope's per-request "
        "callbacks (`config.callback_url` of a generation)"
    )
    updated_at: datetime = Field(description="When it was created or last rotated")


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"

    id: uuid.UUID = uuid_pk()
    delivery_id: uuid.UUID = Field(
        foreign_key="webhook_delivery.id", ondelete="CASCADE", index=True
    )
    number: int
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=1024)
    duration_ms: int
    response_excerpt: str | None = Field(default=None, max_length=1024)
    attempted_at: datetime = created_at_field()


class WebhookAttemptPublic(SQLModel):
    number: int
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None
    attempted_at: datetime
    succeeded: bool


class WebhookDeliveryPublic(SQLModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID | None
    message_id: str
    event_type: str
    generation_id: uuid.UUID | None
    payload: dict[str, Any]
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    deadline: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    attempts: list[WebhookAttemptPublic]


class WebhookDeliveriesPublic(SQLModel):
    data: list[WebhookDeliveryPublic]
    count: int

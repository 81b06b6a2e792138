"""Generation models: the admin-managed catalogue of providers the pipeline can route to.

The API schemas mirror the Sartiq contract field for field (names, nullability, defaults,
required lists), so they are declared separately from the table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationInfo, field_validator
from sqlalchemy import JSON, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field, SQLModel

from app.models.base import created_at_field, empty_list, updated_at_field, uuid_pk
from app.models.common import Message  # noqa: F401 - re-exported for the routes
from app.providers.configs import (
    AiCoreProviderConfig,
    FalShootifyRefinerConfig,
    FalStandardConfig,
    FreepikMagnificConfig,
    FreepikMagnificPrecisionConfig,
    NanoBananaUpscalerConfig,
    SartiqUltimateFaceFixerConfig,
    SartiqUltimateGarmentFixerConfig,
    SartiqUltimateRefinerConfig,
    VertexConfig,
)
from app.providers.enums import GenerationTool, ProviderCapability, ProviderType

JSONType = JSON().with_variant(JSONB(), "postgresql")

# Order matters: it is the contract's anyOf order.
ProviderConfigField = (
    AiCoreProviderConfig
    | NanoBananaUpscalerConfig
    | FalShootifyRefinerConfig
    | FalStandardConfig
    | FreepikMagnificConfig
    | FreepikMagnificPrecisionConfig
    | SartiqUltimateFaceFixerConfig
    | SartiqUltimateGarmentFixerConfig
    | SartiqUltimateRefinerConfig
    | VertexConfig
    | dict[str, Any]
)

# Bounds are enforced by validators, not schema keywords: the schemas are the contract's.
_POSITIVE_FIELDS = ("max_output_width", "max_output_height", "max_size_pixels")
_INT32_MAX = 2**31 - 1
# Checked against the table's column lengths.
_TEXT_FIELDS = ("name", "icon")


def _must_be_positive(value: int | None) -> int | None:
    if value is not None and not 0 < value <= _INT32_MAX:
        raise ValueError(f"must be a positive integer of at most {_INT32_MAX}")
    return value


def _must_fit(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return value
    limit = GenerativeModel.__table__.c[str(info.field_name)].type.length  # type: ignore[attr-defined]
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class GenerativeModel(SQLModel, table=True):
    __tablename__ = "generative_model"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=255, index=True)
    icon: str | None = Field(default=None, max_length=2048)
    provider: ProviderType = Field(sa_type=String(64))
    provider_config: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    provider_capabilities: list[str] | None = Field(default=None, sa_column=Column(JSONType))
    fallback_provider: ProviderType | None = Field(default=None, sa_type=String(64))
    fallback_provider_config: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONType)
    )
    fallback_provider_capabilities: list[str] | None = Field(
        default=None, sa_column=Column(JSONType)
    )
    tool_types: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSONType, nullable=False)
    )
    recommended: bool = False
    beta: bool = False
    max_output_width: int | None = None
    max_output_height: int | None = None
    max_size_pixels: int | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class GenerativeModelsCreate(SQLModel):
    """Schema for creating a new generation model."""

    name: str
    icon: str | None = None
    provider: ProviderType
    provider_config: ProviderConfigField
    provider_capabilities: list[ProviderCapability] | None = None
    fallback_provider: ProviderType | None = None
    fallback_provider_config: ProviderConfigField | None = None
    fallback_provider_capabilities: list[ProviderCapability] | None = None
    tool_types: list[GenerationTool] = []
    recommended: bool = False
    beta: bool = False
    max_output_width: int | None = None
    max_output_height: int | None = None
    max_size_pixels: int | None = None

    _positive = field_validator(*_POSITIVE_FIELDS)(_must_be_positive)
    _fits = field_validator(*_TEXT_FIELDS)(_must_fit)


class GenerativeModelsUpdate(SQLModel):
    """Schema for updating a generation model."""

    name: str | None = None
    icon: str | None = None
    provider: ProviderType | None = None
    provider_config: ProviderConfigField | None = None
    provider_capabilities: list[ProviderCapability] | None = None
    fallback_provider: ProviderType | None = None
    fallback_provider_config: ProviderConfigField | None = None
    fallback_provider_capabilities: list[ProviderCapability] | None = None
    tool_types: list[GenerationTool] | None = None
    recommended: bool | None = None
    beta: bool | None = None
    max_output_width: int | None = None
    max_output_height: int | None = None
    max_size_pixels: int | None = None

    _positive = field_validator(*_POSITIVE_FIELDS)(_must_be_positive)
    _fits = field_validator(*_TEXT_FIELDS)(_must_fit)


class GenerativeModelsPublic(SQLModel):
    """Schema for public generation model data."""

    id: uuid.UUID
    name: str
    icon: str | None
    provider: ProviderType
    provider_config: ProviderConfigField
    provider_capabilities: list[ProviderCapability] | None
    fallback_provider: ProviderType | None = None
    fallback_provider_config: ProviderConfigField | None = None
    fallback_provider_capabilities: list[ProviderCapability] | None = None
    tool_types: list[GenerationTool]
    recommended: bool
    beta: bool
    max_output_width: int | None
    max_output_height: int | None
    max_size_pixels: int | None


class GenerativeModelsListPublic(SQLModel):
    """Schema for list of generation models."""

    data: list[GenerativeModelsPublic]
    count: int

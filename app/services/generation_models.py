"""Use cases of the generation-model catalogue; provider configs are validated here."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import Database
from app.core.errors import InvalidInput, NotFound
from app.models.generation_model import (
    GenerativeModel,
    GenerativeModelsCreate,
    GenerativeModelsUpdate,
)

# The prompt builders cache the LLM model list briefly; this process sees edits at once.
from app.prompts.llm import forget_models
from app.providers.configs import parse_provider_config
from app.providers.enums import ProviderType
from app.repositories.generation_models import (
    PUBLIC_COLUMNS,
    GenerationModelRepository,
    PublicGenerationModelReader,
)

NOT_FOUND = "Generation model not found"


def _config_dump(
    provider: ProviderType | None, raw: Any, field: str, *, required: bool
) -> dict[str, Any] | None:
    """Validate `raw` against `provider`'s config class; 422 located at the offending field."""
    if provider is None:
        if raw not in (None, {}):
            pair = "fallback_provider" if field.startswith("fallback") else "provider"
            raise InvalidInput.field(["body", field], f"{field} given without {pair}", raw)
        return None
    if raw is None and not required:
        raw = {}
    try:
        config = parse_provider_config(provider, raw)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, ["body", field]) from exc
    except ValueError as exc:
        raise InvalidInput.field(["body", field, "provider_type"], str(exc), raw) from exc
    return config.model_dump(mode="json")


def _raw(value: Any) -> Any:
    return value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value


async def create_model(session: AsyncSession, data: GenerativeModelsCreate) -> GenerativeModel:
    values = data.model_dump(mode="json", exclude={"provider_config", "fallback_provider_config"})
    values["provider_config"] = _config_dump(
        data.provider, _raw(data.provider_config), "provider_config", required=True
    )
    values["fallback_provider_config"] = _config_dump(
        data.fallback_provider,
        _raw(data.fallback_provider_config),
        "fallback_provider_config",
        required=False,
    )
    model = await GenerationModelRepository(session).add(GenerativeModel(**values))
    forget_models()
    return model


async def update_model(
    session: AsyncSession, model_id: uuid.UUID, data: GenerativeModelsUpdate
) -> GenerativeModel:
    repo = GenerationModelRepository(session)
    model = await repo.get(model_id)
    if model is None:
        raise NotFound(NOT_FOUND)
    sent = data.model_dump(mode="json", exclude_unset=True)
    for field in ("name", "provider", "provider_config", "tool_types", "recommended", "beta"):
        if field in sent and sent[field] is None:
            raise InvalidInput.field(["body", field], "may not be null", None)
    provider = ProviderType(sent.get("provider", model.provider))
    if "provider" in sent or "provider_config" in sent:
        raw = _raw(data.provider_config) if "provider_config" in sent else model.provider_config
        sent["provider_config"] = _config_dump(provider, raw, "provider_config", required=True)
    if "fallback_provider" in sent or "fallback_provider_config" in sent:
        fallback = sent.get("fallback_provider", model.fallback_provider)
        raw = (
            _raw(data.fallback_provider_config)
            if "fallback_provider_config" in sent
            else model.fallback_provider_config
        )
        if "fallback_provider" in sent and fallback is None:
            raw = None
        sent["fallback_provider_config"] = _config_dump(
            ProviderType(fallback) if fallback else None,
            raw,
            "fallback_provider_config",
            required=False,
        )
    model.sqlmodel_update(sent)
    session.add(model)
    await session.flush()
    forget_models()
    return model


async def delete_model(session: AsyncSession, model_id: uuid.UUID) -> None:
    repo = GenerationModelRepository(session)
    model = await repo.get(model_id)
    if model is None:
        raise NotFound(NOT_FOUND)
    await repo.delete(model)
    forget_models()


async def get_public(db: Database, model_id: uuid.UUID) -> dict[str, Any]:
    row = await PublicGenerationModelReader(db).get_row(model_id)
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def list_public(db: Database, *, skip: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    return await PublicGenerationModelReader(db).list_rows(skip=skip, limit=limit)


def public_dict(model: GenerativeModel) -> dict[str, Any]:
    return {column.name: getattr(model, column.name) for column in PUBLIC_COLUMNS}

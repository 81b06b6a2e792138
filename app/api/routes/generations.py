from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import AfterValidator, AwareDatetime

from app.api.deps import (
    LimitQuery,
    OwnerScopeDep,
    ReadSessionDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    SkipQuery,
)
from app.api.idempotency import Idempotent
from app.models.common import Message
from app.models.generation import (
    GenerationCreate,
    GenerationPublic,
    GenerationsPublic,
    GenerationStatus,
    GenerationStrategy,
    GenerationType,
)
from app.providers.registry import ProviderRegistry
from app.repositories.generations import GenerationFilters
from app.services import generations as service

router = APIRouter(prefix="/generations", tags=["generations"])


async def get_registry(request: Request) -> ProviderRegistry:
    return request.app.state.provider_registry  # type: ignore[no-any-return]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of range once converted to UTC") from exc


# Stored times are UTC: a time without an offset would be a guess, and one that leaves the
# datetime range once converted (9999-12-31T23:59:59-23:00) cannot be compared with them.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]

RegistryDep = Annotated[ProviderRegistry, Depends(get_registry)]


@router.post(
    "/",
    response_model=GenerationPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Create Generation",
    dependencies=[Idempotent],
)
async def create_generation(
    session: SessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    registry: RegistryDep,
    generation_in: GenerationCreate,
    v: str = "1",
) -> Any:
    """Create a new generation: it is queued and its predictions run in the background."""
    generation, predictions = await service.create_generation(
        session, scope, generation_in, settings=settings, registry=registry, runtime=runtime
    )
    return service.generation_public(generation, predictions, settings.API_V1_STR)


@router.get("/", response_model=GenerationsPublic, summary="Read Generations")
async def read_generations(
    session: ReadSessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    status: GenerationStatus | None = None,
    generation_strategy: GenerationStrategy | None = None,
    generation_type: GenerationType | None = None,
    subject_id: uuid.UUID | None = None,
    product_id: uuid.UUID | None = None,
    created_after: Annotated[UtcDatetime | None, Query(description="Inclusive")] = None,
    created_before: Annotated[UtcDatetime | None, Query(description="Exclusive")] = None,
) -> Any:
    """Generations you can see, newest first, with their predictions."""
    filters = GenerationFilters(
        status=status,
        strategy=generation_strategy,
        generation_type=generation_type,
        subject_id=subject_id,
        product_id=product_id,
        created_after=created_after,
        created_before=created_before,
    )
    rows, count = await service.list_generations(session, scope, filters, skip=skip, limit=limit)
    return {
        "data": [service.generation_public(g, p, settings.API_V1_STR) for g, p in rows],
        "count": count,
    }


@router.get("/{id}", response_model=GenerationPublic, summary="Read Generation")
async def read_generation(
    session: ReadSessionDep, scope: OwnerScopeDep, settings: SettingsDep, id: uuid.UUID
) -> Any:
    generation, predictions = await service.get_generation(session, scope, id)
    return service.generation_public(generation, predictions, settings.API_V1_STR)


@router.post("/{id}/cancel", response_model=GenerationPublic, summary="Cancel Generation")
async def cancel_generation(
    session: SessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    id: uuid.UUID,
) -> Any:
    """Stop queued and running predictions; remote jobs are cancelled where possible."""
    generation, predictions = await service.cancel_generation(session, scope, id, runtime)
    return service.generation_public(generation, predictions, settings.API_V1_STR)


@router.post(
    "/{id}/retry",
    response_model=GenerationPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Retry Generation",
)
async def retry_generation(
    session: SessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    id: uuid.UUID,
) -> Any:
    """Run the failed and cancelled predictions of a finished generation again."""
    generation, predictions = await service.retry_generation(session, scope, id, runtime)
    return service.generation_public(generation, predictions, settings.API_V1_STR)


@router.delete("/{id}", response_model=Message, summary="Delete Generation")
async def delete_generation(
    session: SessionDep, scope: OwnerScopeDep, runtime: RuntimeDep, id: uuid.UUID
) -> Message:
    """Delete the generation, its predictions and their stored files."""
    await service.delete_generation(session, scope, id, runtime)
    return Message(message="Generation deleted successfully")

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from app.api.deps import MAX_SKIP, CurrentSuperuser, DatabaseDep, SessionDep
from app.api.responses import OrjsonResponse
from app.core.errors import InvalidInput
from app.models.common import Message
from app.models.generation_model import (
    GenerativeModelsCreate,
    GenerativeModelsListPublic,
    GenerativeModelsPublic,
    GenerativeModelsUpdate,
)
from app.services import generation_models as service

router = APIRouter(prefix="/generation-models", tags=["generation-models"])

MAX_LIMIT = 1000


@router.get("/", response_model=GenerativeModelsListPublic, summary="Read Generation Models")
async def read_generation_models(db: DatabaseDep, skip: int = 0, limit: int = 100) -> Any:
    """Retrieve generation models. Public endpoint."""
    # Bounds are checked here rather than in the signature: the contract shows plain integers.
    if not 0 <= skip <= MAX_SKIP:
        raise InvalidInput.field(
            ["query", "skip"], f"Input should be between 0 and {MAX_SKIP}", skip
        )
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidInput.field(
            ["query", "limit"], f"Input should be between 1 and {MAX_LIMIT}", limit
        )
    rows, count = await service.list_public(db, skip=skip, limit=limit)
    return OrjsonResponse({"data": rows, "count": count})


@router.post("/", response_model=GenerativeModelsPublic, summary="Create Generation Model")
async def create_generation_model(
    session: SessionDep, _: CurrentSuperuser, model_in: GenerativeModelsCreate
) -> Any:
    """Create new generation model. Admin only."""
    model = await service.create_model(session, model_in)
    return OrjsonResponse(service.public_dict(model))


@router.get("/{id}", response_model=GenerativeModelsPublic, summary="Read Generation Model")
async def read_generation_model(db: DatabaseDep, id: uuid.UUID) -> Any:
    """Get generation model by ID. Public endpoint."""
    return OrjsonResponse(await service.get_public(db, id))


@router.put("/{id}", response_model=GenerativeModelsPublic, summary="Update Generation Model")
async def update_generation_model(
    session: SessionDep,
    _: CurrentSuperuser,
    id: uuid.UUID,
    model_in: GenerativeModelsUpdate,
) -> Any:
    """Update generation model. Admin only."""
    model = await service.update_model(session, id, model_in)
    return OrjsonResponse(service.public_dict(model))


@router.delete("/{id}", response_model=Message, summary="Delete Generation Model")
async def delete_generation_model(
    session: SessionDep, _: CurrentSuperuser, id: uuid.UUID
) -> Message:
    """Delete generation model. Admin only."""
    await service.delete_model(session, id)
    return Message(message="Generation model deleted successfully")

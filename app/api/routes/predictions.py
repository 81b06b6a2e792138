from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response, StreamingResponse

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
from app.core.errors import NotFound
from app.models.generation import (
    GenerationPublic,
    PredictionPublic,
    PredictionsPublic,
    PredictionStatus,
)
from app.pipeline.runtime import EXTENSIONS
from app.services import generations as service
from app.storage.base import Storage

router = APIRouter(prefix="/predictions", tags=["predictions"])


@router.get("/", response_model=PredictionsPublic, summary="Read Predictions")
async def read_predictions(
    session: ReadSessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    generation_id: uuid.UUID | None = None,
    status: PredictionStatus | None = None,
) -> Any:
    rows, count = await service.list_predictions(
        session, scope, generation_id=generation_id, status=status, skip=skip, limit=limit
    )
    return {
        "data": [service.prediction_public(p, settings.API_V1_STR) for p in rows],
        "count": count,
    }


@router.get("/{id}", response_model=PredictionPublic, summary="Read Prediction")
async def read_prediction(
    session: ReadSessionDep, scope: OwnerScopeDep, settings: SettingsDep, id: uuid.UUID
) -> Any:
    prediction = await service.get_prediction(session, scope, id)
    return service.prediction_public(prediction, settings.API_V1_STR)


@router.post("/{id}/select", response_model=PredictionPublic, summary="Select Prediction")
async def select_prediction(
    session: SessionDep, scope: OwnerScopeDep, settings: SettingsDep, id: uuid.UUID
) -> Any:
    """Mark this completed prediction as the chosen result of its generation."""
    prediction = await service.select_prediction(session, scope, id)
    return service.prediction_public(prediction, settings.API_V1_STR)


@router.post(
    "/{id}/replay",
    response_model=GenerationPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Replay Prediction",
    dependencies=[Idempotent],
)
async def replay_prediction(
    session: SessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    id: uuid.UUID,
) -> Any:
    """Run this completed prediction again from its reproducibility manifest: a new generation
    with one prediction, the same prompt, seed, inputs (checked by sha256) and providers."""
    generation, predictions = await service.replay_prediction(session, scope, id, runtime)
    return service.generation_public(generation, predictions, settings.API_V1_STR)


@router.get(
    "/{id}/image",
    summary="Read Prediction Image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 307: {"description": "Signed URL"}},
)
async def read_prediction_image(
    request: Request,
    session: ReadSessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    id: uuid.UUID,
) -> Response:
    """The stored result: streamed, or a redirect to an expiring signed URL (object storage)."""
    prediction = await service.get_prediction(session, scope, id)
    key = prediction.result_image_key
    if key is None:
        raise NotFound("Prediction has no stored result")
    storage: Storage = request.app.state.storage
    signed = await storage.signed_url(key, settings.SIGNED_URL_TTL_SECONDS)
    if signed is not None:
        return RedirectResponse(signed, status_code=307, headers={"Cache-Control": "no-store"})
    mime_type = prediction.result_mime_type or "application/octet-stream"
    etag = f'"{prediction.result_sha256}"'
    headers = {
        "Cache-Control": "private, max-age=3600",
        "ETag": etag,
        # Served from the API's origin: never sniffed or run as anything but the image it is.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": f'inline; filename="{prediction.id}.{EXTENSIONS.get(mime_type, "bin")}"',
    }
    if _entity_tags(request.headers.get("if-none-match")) & {etag, "*"}:
        return Response(status_code=304, headers=headers)
    try:
        chunks = await storage.open(key)
    except FileNotFoundError:
        raise NotFound("Stored result is missing") from None
    return StreamingResponse(
        chunks,
        media_type=mime_type,
        headers={**headers, "Content-Length": str(prediction.result_size_bytes)},
    )


def _entity_tags(header: str | None) -> set[str]:
    """The tags an If-None-Match header lists (weak ones compare equal, RFC 9110 13.1.2)."""
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.sse import EventSourceResponse

from app.api.deps import OwnerScopeDep, ReadSessionDep, SettingsDep
from app.services import generations as generations_service
from app.services.generation_events import generation_event_stream

router = APIRouter(prefix="/generations", tags=["generations"])
KEEPALIVE_SECONDS = 15.0


def encode(event_id: str | None, event_type: str, data: dict[str, Any]) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return (
        f"{head}event: {event_type}\n".encode()
        + b"data: "
        + orjson.dumps(data, default=str)
        + b"\n\n"
    )


@router.get(
    "/{generation_id}/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream"}},
)
async def stream_generation_events(
    request: Request,
    session: ReadSessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    generation_id: uuid.UUID,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Server-Sent Events for one generation: a `generation.snapshot` first, then
    `generation.status`, `prediction.progress`, `prediction.completed` / `prediction.failed`
    and the final `generation.completed` / `failed` / `cancelled`, after which the stream
    closes. Each event has an `id`; reconnect with `Last-Event-ID` to resume after it."""
    # Checked (and the snapshot taken) before streaming: the request's session ends here.
    generation, predictions = await generations_service.get_generation(
        session, scope, generation_id
    )
    snapshot = None
    if last_event_id is None:
        snapshot = generations_service.generation_public(
            generation, predictions, settings.API_V1_STR
        )

    async def body() -> AsyncIterator[bytes]:
        async for item in generation_event_stream(
            request.app.state.db,
            request.app.state.event_bus,
            generation_id,
            snapshot=snapshot,
            last_event_id=last_event_id,
            idle_timeout=KEEPALIVE_SECONDS,
        ):
            if item is None:
                # Keeps proxies from closing a quiet stream.
                yield b": keepalive\n\n"
                continue
            yield encode(*item)

    return EventSourceResponse(
        body(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )

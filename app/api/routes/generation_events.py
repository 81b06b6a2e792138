from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from fastapi.sse import EventSourceResponse

from app.api.deps import (
    ApiKeyDep,
    OrganizationIdQuery,
    OwnerScopeDep,
    ReadSessionDep,
    SettingsDep,
    TokenDep,
)
from app.core.errors import AppError
from app.models.generation import GenerationStatus
from app.services import generations as generations_service
from app.services.auth import authenticate
from app.services.generation_events import FINAL_STATUSES, generation_event_stream
from app.services.tenancy import resolve_scope_in

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
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "An event stream"},
        204: {"description": "Resumed after the final event: nothing more will come"},
    },
)
async def stream_generation_events(
    request: Request,
    session: ReadSessionDep,
    scope: OwnerScopeDep,
    settings: SettingsDep,
    token: TokenDep,
    api_key: ApiKeyDep,
    generation_id: uuid.UUID,
    organization_id: OrganizationIdQuery = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Server-Sent Events for one generation: a `generation.snapshot` first, then
    `generation.status`, `prediction.progress`, `prediction.completed` / `prediction.failed`
    and the final `generation.completed` / `failed` / `cancelled`, after which the stream
    closes. Each event has an `id`; reconnect with `Last-Event-ID` to resume after it (a
    204 when the final event was already received: EventSource clients stop there). The
    caller's access is checked again while the stream lasts."""
    # Checked (and the snapshot taken) before streaming: the request's session ends here.
    generation, predictions = await generations_service.get_generation(
        session, scope, generation_id
    )
    status = GenerationStatus(generation.status)
    snapshot = None
    if last_event_id is None:
        snapshot = generations_service.generation_public(
            generation, predictions, settings.API_V1_STR
        )
    state = request.app.state

    async def check() -> GenerationStatus | None:
        try:
            principal = await authenticate(state.db, state.settings, token, api_key)
            current = await resolve_scope_in(state.db, principal, organization_id)
            async with state.db.read_sessionmaker() as reading:
                visible = await generations_service.get_visible(reading, current, generation_id)
        except AppError:
            return None
        return GenerationStatus(visible.status)

    events = generation_event_stream(
        state.event_bus,
        generation_id,
        status=status,
        snapshot=snapshot,
        last_event_id=last_event_id,
        check=check,
        idle_timeout=KEEPALIVE_SECONDS,
        recheck_seconds=KEEPALIVE_SECONDS,
    )
    first: Any = _NOTHING
    if last_event_id is not None and status in FINAL_STATUSES:
        # Answered at once (the bus holds all there is): an empty answer would have
        # EventSource reconnect forever.
        first = await anext(events, _NOTHING)
        if first is _NOTHING:
            return Response(status_code=204)

    async def body() -> AsyncIterator[bytes]:
        items = events if first is _NOTHING else _prepend(first, events)
        async for item in items:
            if item is None:
                # Keeps proxies from closing a quiet stream.
                yield b": keepalive\n\n"
                continue
            yield encode(*item)

    return EventSourceResponse(
        body(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


_NOTHING = object()


async def _prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for item in rest:
        yield item

"""Live events of one generation, for Server-Sent Events clients.

Order: a snapshot of the generation as it is now (on first connect), then its events from
the bus after the client's `Last-Event-ID` (replayed, then live), until the final state.
A generation already final when the client connects gets the snapshot and the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from app.core.db import Database
from app.events.replay import ReplayableEventBus
from app.models.generation import GenerationStatus
from app.repositories.generations import GenerationRepository

FINAL_STATUSES = {GenerationStatus.COMPLETED, GenerationStatus.FAILED, GenerationStatus.CANCELLED}


async def current_status(db: Database, generation_id: uuid.UUID) -> GenerationStatus | None:
    async with db.read_sessionmaker() as session:
        generation = await GenerationRepository(session).get(generation_id)
        return GenerationStatus(generation.status) if generation is not None else None


async def generation_event_stream(
    db: Database,
    bus: ReplayableEventBus,
    generation_id: uuid.UUID,
    *,
    snapshot: dict[str, Any] | None,
    last_event_id: str | None,
    idle_timeout: float = 15.0,
) -> AsyncIterator[tuple[str | None, str, dict[str, Any]] | None]:
    """Yields (event id, event type, data), or None after `idle_timeout` of silence."""
    if snapshot is not None:
        yield None, "generation.snapshot", snapshot
        if snapshot.get("status") in FINAL_STATUSES and last_event_id is None:
            return
    stream = bus.stream(generation_id, last_event_id, idle_timeout=idle_timeout)
    try:
        async for item in stream:
            if item is None:
                # Quiet for a while: if the final event was lost (a bus restart), the
                # database still knows the generation is over, or that it was deleted.
                status = await current_status(db, generation_id)
                if status is None or status in FINAL_STATUSES:
                    return
                yield None
                continue
            cursor, event = item
            yield (
                cursor,
                str(event.type),
                {
                    "generation_id": str(event.generation_id),
                    "prediction_id": str(event.prediction_id) if event.prediction_id else None,
                    "occurred_at": event.occurred_at.isoformat(),
                    **event.data,
                },
            )
            if event.is_terminal:
                return
    finally:
        await stream.aclose()  # type: ignore[attr-defined]

"""Live events of one generation, for Server-Sent Events clients.

Order: a snapshot of the generation as it is now (on first connect), then its events from
the bus after the client's `Last-Event-ID` (replayed, then live), until the final state.
A generation already final when the client connects gets the snapshot and the end, or, on a
reconnect, what followed its cursor and the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.events.replay import ReplayableEventBus
from app.models.generation import GenerationStatus

FINAL_STATUSES = {GenerationStatus.COMPLETED, GenerationStatus.FAILED, GenerationStatus.CANCELLED}

# The generation's status if it exists and the caller may still see it, else None.
AccessCheck = Callable[[], Awaitable[GenerationStatus | None]]

Event = tuple[str | None, str, dict[str, Any]]


async def generation_event_stream(
    bus: ReplayableEventBus,
    generation_id: uuid.UUID,
    *,
    status: GenerationStatus,
    snapshot: dict[str, Any] | None,
    last_event_id: str | None,
    check: AccessCheck,
    idle_timeout: float = 15.0,
    recheck_seconds: float = 15.0,
) -> AsyncIterator[Event | None]:
    """Yields (event id, event type, data), or None after `idle_timeout` of silence.

    `status` is the generation's when the client connected. `check` runs when the stream is
    quiet (a lost final event, a deleted generation) and at least every `recheck_seconds`
    while it is busy: a caller whose access went (a member removed, a key revoked, a user
    deactivated) stops receiving within that time."""
    final = status in FINAL_STATUSES
    if snapshot is not None:
        yield None, "generation.snapshot", snapshot
        if final and last_event_id is None:
            return
    # Over already: whatever followed the cursor is in the bus now, no need to wait for more.
    stream = bus.stream(generation_id, last_event_id, idle_timeout=0.001 if final else idle_timeout)
    checked = time.monotonic()
    try:
        async for item in stream:
            if item is None or time.monotonic() - checked >= recheck_seconds:
                current = await check()
                checked = time.monotonic()
                if current is None or (item is None and current in FINAL_STATUSES):
                    return
            if item is None:
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

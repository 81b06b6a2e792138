"""Every generation event is published from here (status changes, progress, final state)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from app.events.bus import EventBus, EventType, GenerationEvent
from app.models.generation import Generation, GenerationStatus

logger = logging.getLogger(__name__)

FINAL_EVENT = {
    GenerationStatus.COMPLETED: EventType.GENERATION_COMPLETED,
    GenerationStatus.FAILED: EventType.GENERATION_FAILED,
    GenerationStatus.CANCELLED: EventType.GENERATION_CANCELLED,
}


class GenerationEvents:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def _publish(self, *events: GenerationEvent) -> None:
        try:
            await self.bus.publish_many(list(events))
        except Exception:
            # Events inform; they never decide the outcome of a generation.
            logger.exception(
                "publishing %s for generation %s failed",
                ", ".join(event.type for event in events),
                events[0].generation_id,
            )

    async def status(
        self,
        generation: Generation | None,
        status: GenerationStatus,
        *,
        generation_id: uuid.UUID | None = None,
        owner_id: uuid.UUID | None = None,
        organization_id: uuid.UUID | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        await self._publish(
            status_event(
                generation,
                status,
                generation_id=generation_id,
                owner_id=owner_id,
                organization_id=organization_id,
                data=data,
            )
        )

    async def prediction(
        self,
        event_type: EventType,
        *,
        generation_id: uuid.UUID,
        prediction_id: uuid.UUID,
        owner_id: uuid.UUID | None,
        organization_id: uuid.UUID | None,
        data: dict[str, Any],
    ) -> None:
        await self._publish(
            GenerationEvent(
                type=event_type,
                generation_id=generation_id,
                prediction_id=prediction_id,
                owner_id=owner_id,
                organization_id=organization_id,
                data=data,
            )
        )

    async def prediction_finished(
        self,
        generation: Generation,
        event_type: EventType,
        prediction_id: uuid.UUID,
        data: dict[str, Any],
        final: GenerationStatus | None,
    ) -> None:
        """A prediction's result, and the generation's final status when that was the last
        one, published together (in that order)."""
        events = [
            GenerationEvent(
                type=event_type,
                generation_id=generation.id,
                prediction_id=prediction_id,
                owner_id=generation.owner_id,
                organization_id=generation.organization_id,
                data=data,
            )
        ]
        if final is not None:
            events.append(status_event(generation, final))
        await self._publish(*events)


def status_event(
    generation: Generation | None,
    status: GenerationStatus,
    *,
    generation_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> GenerationEvent:
    gid = generation.id if generation is not None else generation_id
    assert gid is not None
    return GenerationEvent(
        type=FINAL_EVENT.get(status, EventType.GENERATION_STATUS),
        generation_id=gid,
        owner_id=generation.owner_id if generation is not None else owner_id,
        organization_id=generation.organization_id if generation is not None else organization_id,
        data={"status": status.value, **(data or {})},
    )

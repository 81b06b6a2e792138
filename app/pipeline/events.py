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

    async def _publish(self, event: GenerationEvent) -> None:
        try:
            await self.bus.publish(event)
        except Exception:
            # Events inform; they never decide the outcome of a generation.
            logger.exception(
                "publishing %s for generation %s failed", event.type, event.generation_id
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
        gid = generation.id if generation is not None else generation_id
        assert gid is not None
        event_type = FINAL_EVENT.get(status, EventType.GENERATION_STATUS)
        await self._publish(
            GenerationEvent(
                type=event_type,
                generation_id=gid,
                owner_id=generation.owner_id if generation is not None else owner_id,
                organization_id=(
                    generation.organization_id if generation is not None else organization_id
                ),
                data={"status": status.value, **(data or {})},
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

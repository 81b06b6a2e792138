"""Publish/subscribe for generation events.

The pipeline publishes; live-event streams, webhooks and callbacks subscribe. The in-process
bus serves the embedded single-process setup; a Redis-backed bus (same interface) lets several
API replicas and workers share events.
"""

from __future__ import annotations

import asyncio
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class EventType(StrEnum):
    GENERATION_STATUS = "generation.status"
    GENERATION_COMPLETED = "generation.completed"
    GENERATION_FAILED = "generation.failed"
    GENERATION_CANCELLED = "generation.cancelled"
    PREDICTION_PROGRESS = "prediction.progress"
    PREDICTION_COMPLETED = "prediction.completed"
    PREDICTION_FAILED = "prediction.failed"


class GenerationEvent(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: EventType
    generation_id: uuid.UUID
    prediction_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.type in (
            EventType.GENERATION_COMPLETED,
            EventType.GENERATION_FAILED,
            EventType.GENERATION_CANCELLED,
        )


class EventBus(ABC):
    @abstractmethod
    async def publish(self, event: GenerationEvent) -> None: ...

    async def publish_many(self, events: list[GenerationEvent]) -> None:
        """Publish in order; buses with a network hop send them together."""
        for event in events:
            await self.publish(event)

    @abstractmethod
    def subscribe(self) -> AsyncIterator[GenerationEvent]:
        """Every event published from now on, until the iterator is closed."""

    async def close(self) -> None:
        return None


class InProcessEventBus(EventBus):
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[GenerationEvent]] = set()
        self._queue_size = queue_size

    async def publish(self, event: GenerationEvent) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                # A slow consumer loses its oldest event rather than stalling the publisher.
                queue.get_nowait()
            queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[GenerationEvent]:
        queue: asyncio.Queue[GenerationEvent] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

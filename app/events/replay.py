"""Event buses that can replay one generation's events from a cursor.

Live-event streams need it: a client that reconnects with `Last-Event-ID` gets what it missed,
then the live tail, from one ordered source (no gap between replay and subscription).
"""

from __future__ import annotations

import asyncio
import uuid
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator

from app.events.bus import EventBus, GenerationEvent, InProcessEventBus

# A stream yields (cursor, event), or None when nothing arrived for a while (callers use it to
# send keep-alives and notice closed connections).
StreamItem = tuple[str, GenerationEvent] | None


class ReplayableEventBus(EventBus):
    @abstractmethod
    def stream(
        self, generation_id: uuid.UUID, after: str | None, *, idle_timeout: float = 15.0
    ) -> AsyncIterator[StreamItem]:
        """The generation's events after cursor `after` (from the start when None), then live."""


class _GenerationLog:
    def __init__(self, capacity: int) -> None:
        self.events: list[GenerationEvent] = []
        self.first_seq = 1
        self.capacity = capacity
        self.changed = asyncio.Event()

    def append(self, event: GenerationEvent) -> None:
        self.events.append(event)
        if len(self.events) > self.capacity:
            drop = len(self.events) - self.capacity
            del self.events[:drop]
            self.first_seq += drop
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class InProcessReplayableEventBus(InProcessEventBus, ReplayableEventBus):
    """The embedded bus, keeping the recent events of the most recent generations."""

    def __init__(
        self, queue_size: int = 1000, max_generations: int = 1000, per_generation: int = 1000
    ) -> None:
        super().__init__(queue_size)
        self._logs: OrderedDict[uuid.UUID, _GenerationLog] = OrderedDict()
        self._max_generations = max_generations
        self._per_generation = per_generation

    def _log(self, generation_id: uuid.UUID) -> _GenerationLog:
        log = self._logs.get(generation_id)
        if log is None:
            log = self._logs[generation_id] = _GenerationLog(self._per_generation)
            while len(self._logs) > self._max_generations:
                self._logs.popitem(last=False)
        else:
            self._logs.move_to_end(generation_id)
        return log

    async def publish(self, event: GenerationEvent) -> None:
        self._log(event.generation_id).append(event)
        await super().publish(event)

    async def stream(
        self, generation_id: uuid.UUID, after: str | None, *, idle_timeout: float = 15.0
    ) -> AsyncIterator[StreamItem]:
        log = self._log(generation_id)
        # Anything but a sequence number we could have issued is ignored (replay from the
        # start): str.isdigit() admits "²", and int() refuses over 4300 digits.
        next_seq = 1
        if after is not None and len(after) <= 18 and after.isascii() and after.isdigit():
            next_seq = int(after) + 1
        while True:
            next_seq = max(next_seq, log.first_seq)
            while next_seq - log.first_seq < len(log.events):
                yield str(next_seq), log.events[next_seq - log.first_seq]
                next_seq += 1
            changed = log.changed
            try:
                await asyncio.wait_for(changed.wait(), idle_timeout)
            except TimeoutError:
                yield None

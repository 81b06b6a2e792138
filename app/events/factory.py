"""The event bus a process publishes generation events on."""

from __future__ import annotations

from app.core.config import Settings
from app.events.redis_bus import RedisEventBus
from app.events.replay import InProcessReplayableEventBus, ReplayableEventBus


def create_event_bus(settings: Settings) -> ReplayableEventBus:
    """Redis Streams when REDIS_URL is set (API replicas and workers share events), else in
    process."""
    if settings.REDIS_URL:
        return RedisEventBus(
            settings.REDIS_URL,
            stream_ttl_seconds=settings.EVENT_STREAM_TTL_SECONDS,
            maxlen=settings.EVENT_STREAM_MAXLEN,
        )
    return InProcessReplayableEventBus()

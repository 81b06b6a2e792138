"""The event bus a process publishes generation events on."""

from __future__ import annotations

from app.core.config import Settings
from app.events.bus import EventBus, InProcessEventBus


def create_event_bus(settings: Settings) -> EventBus:
    # A Redis-backed bus shared by API replicas and workers plugs in here.
    return InProcessEventBus()

"""The event bus on Redis Streams, for several API replicas and workers.

Every event goes to one stream of all events (subscribers: webhooks) and to a stream per
generation (live-event clients; kept EVENT_STREAM_TTL_SECONDS so reconnects can replay).
Stream entry ids are the cursors: `Last-Event-ID` maps straight onto XREAD.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as redis

from app.core.backoff import jittered_backoff
from app.events.bus import GenerationEvent
from app.events.replay import ReplayableEventBus, StreamItem

logger = logging.getLogger(__name__)

# A stream entry id as Redis issues them (ASCII digits: \d alone admits any script's).
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$", re.ASCII)
FIELD = b"event"
MAX_STREAM_ID_PART = 2**64 - 1


def _valid_stream_id(value: str) -> bool:
    """Whether Redis would take `value` as a stream id (XREAD fails the stream otherwise)."""
    return bool(_STREAM_ID.match(value)) and all(
        int(part) <= MAX_STREAM_ID_PART for part in value.split("-")
    )


Entry = tuple[bytes, dict[bytes, bytes]]

# One command for a batch of events: each goes to the all-events stream and to its
# generation's stream, whose expiry is renewed. KEYS: the all-events stream, then each event's
# generation stream; ARGV: maxlen, ttl, then each event's payload.
PUBLISH_SCRIPT = """
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
  redis.call('XADD', KEYS[i - 1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
  redis.call('EXPIRE', KEYS[i - 1], ARGV[2])
end
"""


def _entries(response: Any) -> list[Entry]:
    """XREAD's reply, flattened: [(stream, [(id, fields), ...]), ...] -> [(id, fields), ...]."""
    return [entry for _stream, entries in response or [] for entry in entries]


class RedisEventBus(ReplayableEventBus):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "events",
        stream_ttl_seconds: int = 24 * 3600,
        maxlen: int = 10_000,
        block_ms: int = 5000,
        socket_timeout: float = 30.0,
    ) -> None:
        # Named, so CLIENT LIST tells the event bus's connections from the rest.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, client_name=f"{prefix}-bus"
        )
        self._all = f"{prefix}:all"
        self._prefix = prefix
        self._ttl = stream_ttl_seconds
        self._maxlen = maxlen
        # A blocking XREAD must return before the socket timeout fires: otherwise redis-py
        # reports a timeout and drops the connection instead of an empty read (redis-py 8
        # defaults to a 5 s socket timeout, which ended idle subscriptions after 5 s).
        self._max_block_ms = max(int(socket_timeout * 1000 * 2 / 3), 1)
        self._block_ms = min(block_ms, self._max_block_ms)
        # A script rather than a pipeline of three commands per event: a third of the
        # client's CPU per publish (replies to parse, pipeline bookkeeping).
        self._publish = self._redis.register_script(PUBLISH_SCRIPT)

    def _generation_key(self, generation_id: uuid.UUID) -> str:
        return f"{self._prefix}:generation:{generation_id}"

    async def publish(self, event: GenerationEvent) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: list[GenerationEvent]) -> None:
        if not events:
            return
        await self._publish(
            keys=[self._all, *(self._generation_key(e.generation_id) for e in events)],
            args=[self._maxlen, self._ttl, *(e.model_dump_json() for e in events)],
        )

    async def subscribe(self) -> AsyncIterator[GenerationEvent]:
        # Start from the current tail, by id: re-reading "$" after an idle timeout would skip
        # whatever was published between two reads. The same cursor carries the subscription
        # over a lost connection: nothing published meanwhile is missed (within maxlen).
        cursor: str | bytes | None = None
        failures = 0
        while True:
            try:
                if cursor is None:
                    latest: Any = await self._redis.xrevrange(self._all, count=1)
                    cursor = latest[0][0] if latest else "0-0"
                response = await self._redis.xread(
                    {self._all: cursor}, block=self._block_ms, count=100
                )
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                delay = jittered_backoff(failures, 0.5, 15.0)
                failures += 1
                logger.warning("event subscription interrupted (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for entry_id, fields in _entries(response):
                cursor = entry_id
                yield GenerationEvent.model_validate_json(fields[FIELD])

    async def stream(
        self, generation_id: uuid.UUID, after: str | None, *, idle_timeout: float = 15.0
    ) -> AsyncIterator[StreamItem]:
        key = self._generation_key(generation_id)
        cursor = after if after and _valid_stream_id(after) else "0-0"
        while True:
            block = min(max(int(idle_timeout * 1000), 1), self._max_block_ms)
            response = await self._redis.xread({key: cursor}, block=block, count=100)
            entries = _entries(response)
            if not entries:
                yield None
            for entry_id, fields in entries:
                cursor = entry_id.decode()
                yield cursor, GenerationEvent.model_validate_json(fields[FIELD])

    async def close(self) -> None:
        await self._redis.aclose()

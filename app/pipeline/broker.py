"""The Taskiq broker: in-memory (jobs run inside the API process) or a Redis stream.

The Redis stream broker acknowledges a message only after the job has finished, so a message
whose worker died is delivered again (to another consumer, once it has been idle long enough).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AsyncBroker, BrokerMessage, InMemoryBroker
from taskiq_redis import RedisStreamBroker

from app.core.backoff import jittered_backoff
from app.core.config import Settings

logger = logging.getLogger(__name__)

# How often a worker takes over messages other consumers left unacknowledged for longer than
# the idle timeout (seconds, far shorter than any idle timeout).
RECLAIM_INTERVAL_SECONDS = 1.0


class StreamBroker(RedisStreamBroker):
    """`RedisStreamBroker` with the same commands, at less cost per message.

    * Sends and acknowledgements share one client: taskiq_redis builds a `Redis` client per
      message sent and per acknowledgement, ~0.1 ms of CPU each (it copies ~170 response
      callbacks), on the API for every prediction queued, on the worker for every one done.
    * Stale messages of other consumers are reclaimed once a second rather than after every
      read that returned messages: that pass (a lock, a Lua script, XAUTOCLAIM) ran on the
      worker's loop beside the start of every job, though a message only becomes reclaimable
      after the idle timeout. It now also runs while the stream is idle, where the library
      never reclaimed anything until a new message arrived.
    * A consumer group that Redis lost (restarted without its data, flushed) is declared
      again, and an unreachable Redis is retried with backoff: the library's receiver loop
      restarted the listener at once, spinning on the CPU and logging a traceback each time.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = Redis(connection_pool=self.connection_pool)

    async def kick(self, message: BrokerMessage) -> None:
        await self._client.xadd(
            message.labels.get("queue_name") or self.queue_name,
            {b"data": message.message},
            maxlen=self.maxlen,
            approximate=self.approximate,
        )

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            await self._client.xack(queue_name, self.consumer_group_name, id)

        return ack

    def _message(self, stream: Any, msg_id: Any, fields: Any) -> AckableMessage:
        return AckableMessage(data=fields[b"data"], ack=self._ack_generator(msg_id, stream))

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        next_reclaim = 0.0
        failures = 0
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                batches: Any = []
                try:
                    batches = await redis.xreadgroup(
                        self.consumer_group_name,
                        self.consumer_name,
                        {self.queue_name: ">"},
                        block=self.block,
                        noack=False,
                        count=self.count,
                    )
                    if time.monotonic() >= next_reclaim:
                        next_reclaim = time.monotonic() + RECLAIM_INTERVAL_SECONDS
                        reclaimed = await self._reclaim(redis)
                        batches = [*(batches or []), (self.queue_name, reclaimed)]
                    failures = 0
                except ResponseError as exc:
                    if not str(exc).startswith("NOGROUP"):
                        raise
                    # The stream or its group is gone (Redis restarted without its data, a
                    # flush, a failover): declared again from the stream's start, so what was
                    # queued since is not skipped. The rows remain the truth; the sweeper
                    # queues again whatever the lost messages carried.
                    logger.warning("task stream %s lost its group; recreating it", self.queue_name)
                    await self._create_group(redis)
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    # Back off rather than spin (and log) while Redis is unreachable.
                    delay = jittered_backoff(failures, 0.5, 15.0)
                    failures += 1
                    logger.warning("task stream unreachable (%s); again in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                # What was read is delivered even when the reclaim after it failed.
                for stream, messages in batches or []:
                    for msg_id, fields in messages:
                        yield self._message(stream, msg_id, fields)

    async def _reclaim(self, redis: Redis) -> list[Any]:
        """Messages other consumers left unacknowledged past the idle timeout (as taskiq_redis
        does it: one consumer at a time per stream)."""
        pipe = redis.pipeline()
        lock = pipe.lock(
            f"autoclaim:{self.consumer_group_name}:{self.queue_name}",
            timeout=self.unacknowledged_lock_timeout,
        )
        await lock.acquire()
        await pipe.xautoclaim(
            name=self.queue_name,
            groupname=self.consumer_group_name,
            consumername=self.consumer_name,
            min_idle_time=self.idle_timeout,
            count=self.unacknowledged_batch_size,
        )
        await lock.release()
        results: Any = await pipe.execute()
        return list(results[1][1])

    async def _create_group(self, redis: Redis) -> None:
        try:
            await redis.xgroup_create(
                self.queue_name, self.consumer_group_name, id="0", mkstream=True
            )
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):  # created meanwhile by another worker
                raise


def create_broker(settings: Settings) -> AsyncBroker:
    # Taskiq logs every job it starts at INFO: a synchronous stderr write per prediction on
    # the event loop, saying less than the prediction's row and events already do.
    logging.getLogger("taskiq.receiver.receiver").setLevel(logging.WARNING)
    if not settings.REDIS_URL:
        return InMemoryBroker(max_async_tasks=settings.WORKER_CONCURRENCY)
    # Unacknowledged messages are handed to another consumer after this idle time; the
    # prediction's lease, not the message, decides whether the work is actually redone.
    idle_ms = int(max(settings.GENERATION_LEASE_SECONDS * 2, 5.0) * 1000)
    return StreamBroker(
        settings.REDIS_URL,
        queue_name=settings.TASK_QUEUE_NAME,
        consumer_group_name=f"{settings.TASK_QUEUE_NAME}:workers",
        idle_timeout=idle_ms,
        unacknowledged_lock_timeout=30.0,
        xread_block=1000,
        xread_count=settings.WORKER_CONCURRENCY,
    )

"""The Redis stream broker: at-least-once delivery, acknowledged by the consumer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from taskiq import BrokerMessage

from app.pipeline.broker import StreamBroker, create_broker
from tests.conftest import make_settings

pytestmark = pytest.mark.redis
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def broker(database_url: str) -> AsyncIterator[StreamBroker]:
    queue = f"test:broker:{uuid.uuid4().hex[:8]}"
    broker = create_broker(make_settings(database_url, REDIS_URL=REDIS_URL, TASK_QUEUE_NAME=queue))
    assert isinstance(broker, StreamBroker)
    await broker.startup()
    yield broker
    await broker.shutdown()
    async with Redis.from_url(REDIS_URL) as redis:
        await redis.delete(queue)


async def test_messages_are_sent_and_acknowledged_without_a_client_per_message(
    broker: StreamBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    original = Redis.__init__

    def counting_init(self: Redis, *args: object, **kwargs: object) -> None:
        built.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    listener = broker.listen()
    monkeypatch.setattr(Redis, "__init__", counting_init)
    for index in range(3):
        await broker.kick(
            BrokerMessage(task_id=str(index), task_name="t", message=b"m%d" % index, labels={})
        )
    received = [await anext(listener) for _ in range(3)]
    assert [m.data for m in received] == [b"m0", b"m1", b"m2"]
    async with Redis.from_url(REDIS_URL) as redis:
        pending = await redis.xpending(broker.queue_name, broker.consumer_group_name)
        assert pending["pending"] == 3
        for message in received:
            await message.ack()  # type: ignore[misc]
        pending = await redis.xpending(broker.queue_name, broker.consumer_group_name)
        assert pending["pending"] == 0
    # The listener's own client and the one this test opened: none per message.
    assert len(built) == 2
    await listener.aclose()


async def test_a_message_left_unacknowledged_is_taken_over_while_the_stream_is_idle() -> None:
    queue = f"test:broker:{uuid.uuid4().hex[:8]}"

    def consumer() -> StreamBroker:
        return StreamBroker(
            REDIS_URL,
            queue_name=queue,
            consumer_group_name=f"{queue}:workers",
            idle_timeout=200,
            xread_block=100,
        )

    dead, alive = consumer(), consumer()
    await dead.startup()
    await alive.startup()
    try:
        await dead.kick(BrokerMessage(task_id="1", task_name="t", message=b"job", labels={}))
        died = dead.listen()
        taken = await anext(died)
        assert taken.data == b"job"  # and never acknowledged: its consumer died
        await died.aclose()
        # Nothing new arrives; the survivor still gets the message once it has been idle.
        survivor = alive.listen()
        again = await asyncio.wait_for(anext(survivor), 5)
        assert again.data == b"job"
        await again.ack()  # type: ignore[misc]
        await survivor.aclose()
    finally:
        await dead.shutdown()
        await alive.shutdown()
        async with Redis.from_url(REDIS_URL) as redis:
            await redis.delete(queue)


async def test_a_group_redis_lost_is_declared_again_and_nothing_queued_since_is_skipped(
    broker: StreamBroker,
) -> None:
    listener = broker.listen()
    # Redis restarted without its data: the stream and its consumer group are gone.
    async with Redis.from_url(REDIS_URL) as redis:
        await redis.delete(broker.queue_name)
    # The API queues again meanwhile (XADD recreates the stream, not the group).
    await broker.kick(BrokerMessage(task_id="1", task_name="t", message=b"after", labels={}))
    received = await asyncio.wait_for(anext(listener), 10)
    assert received.data == b"after"
    await listener.aclose()


async def test_an_unreachable_redis_is_retried_with_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[int] = []

    def backoff(attempt: int, base: float, cap: float) -> float:
        waits.append(attempt)
        return 0.1

    monkeypatch.setattr("app.pipeline.broker.jittered_backoff", backoff)
    unreachable = StreamBroker("redis://127.0.0.1:1/0", queue_name="test:nowhere")
    listener = unreachable.listen()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(listener), 0.55)
    # A handful of attempts, growing, not a spin.
    assert 3 <= len(waits) <= 7 and waits == list(range(len(waits)))
    await unreachable.shutdown()


async def test_what_was_read_is_delivered_when_the_reclaim_after_it_fails(
    broker: StreamBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    monkeypatch.setattr("app.pipeline.broker.jittered_backoff", lambda *_: 0.01)
    failures = [RedisConnectionError("connection reset")]
    real_reclaim = broker._reclaim

    async def flaky_reclaim(redis: Redis) -> list[object]:
        if failures:
            raise failures.pop()
        return await real_reclaim(redis)

    monkeypatch.setattr(broker, "_reclaim", flaky_reclaim)
    await broker.kick(BrokerMessage(task_id="1", task_name="t", message=b"read", labels={}))
    listener = broker.listen()
    received = await asyncio.wait_for(anext(listener), 5)
    assert received.data == b"read" and not failures
    await listener.aclose()

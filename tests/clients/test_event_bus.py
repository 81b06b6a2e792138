"""Event buses: in process and on Redis Streams; replay of a generation's events from a
cursor, live tail, and events shared between two bus instances (replicas)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.events.bus import EventType, GenerationEvent
from app.events.factory import create_event_bus
from app.events.redis_bus import RedisEventBus
from app.events.replay import InProcessReplayableEventBus, ReplayableEventBus, StreamItem
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def event(generation_id: uuid.UUID, type_: EventType, **data: object) -> GenerationEvent:
    return GenerationEvent(type=type_, generation_id=generation_id, data=dict(data))


async def take(stream: AsyncIterator[StreamItem], n: int) -> list[tuple[str, GenerationEvent]]:
    items: list[tuple[str, GenerationEvent]] = []
    while len(items) < n:
        item = await asyncio.wait_for(anext(stream), 5)
        if item is not None:
            items.append(item)
    return items


async def check_replay(publisher: ReplayableEventBus, reader: ReplayableEventBus) -> None:
    gen, other = uuid.uuid4(), uuid.uuid4()
    # Several at once (one round trip on Redis), each to its generation, in order.
    await publisher.publish_many(
        [
            event(gen, EventType.GENERATION_STATUS, status="PROCESSING"),
            event(other, EventType.GENERATION_STATUS, status="PROCESSING"),
            event(gen, EventType.PREDICTION_PROGRESS, progress=0.5),
        ]
    )

    stream = reader.stream(gen, None, idle_timeout=0.05)
    first = await take(stream, 2)
    assert [e.type for _, e in first] == [
        EventType.GENERATION_STATUS,
        EventType.PREDICTION_PROGRESS,
    ]
    assert all(e.generation_id == gen for _, e in first)
    # Nothing new: the stream says so instead of hanging.
    assert await asyncio.wait_for(anext(stream), 5) is None
    # Live tail.
    await publisher.publish(event(gen, EventType.GENERATION_COMPLETED, status="COMPLETED"))
    ((_, done),) = await take(stream, 1)
    assert done.type == EventType.GENERATION_COMPLETED
    await stream.aclose()

    # A reconnect after the first event replays the rest, in order.
    resumed = reader.stream(gen, first[0][0], idle_timeout=0.05)
    rest = await take(resumed, 2)
    assert [e.type for _, e in rest] == [
        EventType.PREDICTION_PROGRESS,
        EventType.GENERATION_COMPLETED,
    ]
    await resumed.aclose()

    # A cursor we cannot have issued (a client's Last-Event-ID) replays everything.
    # Redis refuses ids beyond 64 bits per part (it failed the stream).
    too_big = ("18446744073709551616-0", "0-18446744073709551616", "9" * 20 + "-0")
    for cursor in ("9" * 5000, "\u00b2", "\u0661-\u0661", "abc", *too_big):
        replayed = reader.stream(gen, cursor, idle_timeout=0.05)
        assert len(await take(replayed, 3)) == 3
        await replayed.aclose()


async def test_in_process_bus_replays_and_tails() -> None:
    bus = InProcessReplayableEventBus()
    await check_replay(bus, bus)


async def test_in_process_bus_forgets_old_generations() -> None:
    bus = InProcessReplayableEventBus(max_generations=2, per_generation=2)
    gens = [uuid.uuid4() for _ in range(3)]
    for gen in gens:
        for i in range(3):
            await bus.publish(event(gen, EventType.PREDICTION_PROGRESS, i=i))
    # The newest generation keeps its last two events; the oldest is gone.
    kept = await take(bus.stream(gens[2], None, idle_timeout=0.01), 2)
    assert [e.data["i"] for _, e in kept] == [1, 2]
    assert await anext(bus.stream(gens[0], None, idle_timeout=0.01)) is None


async def test_subscribers_get_every_event_from_now_on() -> None:
    bus = InProcessReplayableEventBus()
    received: list[GenerationEvent] = []

    async def listen() -> None:
        async for e in bus.subscribe():
            received.append(e)

    task = asyncio.create_task(listen())
    await asyncio.sleep(0)
    await bus.publish(event(uuid.uuid4(), EventType.GENERATION_FAILED))
    await asyncio.sleep(0.01)
    task.cancel()
    assert [e.type for e in received] == [EventType.GENERATION_FAILED]


def test_factory_picks_redis_only_when_configured(database_url: str) -> None:
    assert isinstance(create_event_bus(make_settings(database_url)), InProcessReplayableEventBus)
    assert isinstance(
        create_event_bus(make_settings(database_url, REDIS_URL=REDIS_URL)), RedisEventBus
    )


@pytest.fixture
async def redis_buses() -> AsyncIterator[tuple[RedisEventBus, RedisEventBus]]:
    prefix = f"test-events-{uuid.uuid4().hex[:8]}"
    first = RedisEventBus(REDIS_URL, prefix=prefix, stream_ttl_seconds=60, block_ms=100)
    second = RedisEventBus(REDIS_URL, prefix=prefix, stream_ttl_seconds=60, block_ms=100)
    yield first, second
    await first.close()
    await second.close()


@pytest.mark.redis
async def test_redis_bus_replays_across_instances(
    redis_buses: tuple[RedisEventBus, RedisEventBus],
) -> None:
    publisher, reader = redis_buses
    await check_replay(publisher, reader)


@pytest.mark.redis
async def test_redis_generation_streams_expire(
    redis_buses: tuple[RedisEventBus, RedisEventBus],
) -> None:
    publisher, _reader = redis_buses
    gen, other = uuid.uuid4(), uuid.uuid4()
    await publisher.publish_many(
        [event(gen, EventType.GENERATION_STATUS), event(other, EventType.GENERATION_STATUS)]
    )
    redis = publisher._redis
    for generation_id in (gen, other):
        key = publisher._generation_key(generation_id)
        assert await redis.xlen(key) == 1
        assert 0 < await redis.ttl(key) <= 60
    # The stream of all events lives on (its length is capped instead).
    assert await redis.ttl(publisher._all) == -1
    await redis.delete(publisher._all, *(publisher._generation_key(g) for g in (gen, other)))


@pytest.mark.redis
async def test_redis_subscribers_on_another_instance_get_new_events(
    redis_buses: tuple[RedisEventBus, RedisEventBus],
) -> None:
    publisher, reader = redis_buses
    await publisher.publish(event(uuid.uuid4(), EventType.GENERATION_STATUS))  # before: not seen
    received: list[GenerationEvent] = []
    subscribed = reader.subscribe()
    # The subscription starts from the tail as of its first step.
    first = asyncio.ensure_future(anext(subscribed))
    await asyncio.sleep(0.05)
    await publisher.publish(event(uuid.uuid4(), EventType.GENERATION_COMPLETED))
    await publisher.publish(event(uuid.uuid4(), EventType.GENERATION_FAILED))
    received.append(await asyncio.wait_for(first, 5))
    received.append(await asyncio.wait_for(anext(subscribed), 5))
    await subscribed.aclose()
    assert [e.type for e in received] == [
        EventType.GENERATION_COMPLETED,
        EventType.GENERATION_FAILED,
    ]


@pytest.mark.redis
async def test_redis_subscription_outlives_idle_periods_and_lost_connections() -> None:
    """Blocking reads stay shorter than the socket timeout (an idle subscription used to die
    with redis-py's TimeoutError), and a dropped connection resumes from the same cursor."""
    import redis.asyncio as redis

    prefix = f"test-events-{uuid.uuid4().hex[:8]}"
    publisher = RedisEventBus(REDIS_URL, prefix=prefix, stream_ttl_seconds=60)
    reader = RedisEventBus(
        REDIS_URL, prefix=prefix, stream_ttl_seconds=60, block_ms=5000, socket_timeout=0.6
    )
    admin = redis.Redis.from_url(REDIS_URL)
    subscribed = reader.subscribe()
    try:
        first = asyncio.ensure_future(anext(subscribed))
        await asyncio.sleep(1.5)  # idle for longer than the socket timeout
        assert not first.done()
        await publisher.publish(event(uuid.uuid4(), EventType.GENERATION_COMPLETED))
        assert (await asyncio.wait_for(first, 5)).type == EventType.GENERATION_COMPLETED

        second = asyncio.ensure_future(anext(subscribed))
        await asyncio.sleep(0.1)
        blocked = [
            c["id"]
            for c in await admin.client_list()
            if c["name"] == f"{prefix}-bus" and c["cmd"] == "xread"
        ]
        assert blocked
        for client_id in blocked:
            await admin.client_kill_filter(_id=client_id)
        # Published while the reader is disconnected: still delivered once it is back.
        await publisher.publish(event(uuid.uuid4(), EventType.GENERATION_FAILED))
        assert (await asyncio.wait_for(second, 10)).type == EventType.GENERATION_FAILED
    finally:
        await subscribed.aclose()
        await publisher.close()
        await reader.close()
        await admin.aclose()

"""Webhook endpoints: organization-scoped CRUD, SSRF guard, signed deliveries with retries,
the delivery log and manual re-sends."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx

from app.events.bus import EventType, GenerationEvent
from tests.clients.apps import FAST_WEBHOOKS, app_instance
from tests.clients.receiver import webhook_receiver

if TYPE_CHECKING:
    from tests.conftest import TestUser

COMPLETED = EventType.GENERATION_COMPLETED.value


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.03)


async def create_hook(
    client: httpx.AsyncClient, user: TestUser, url: str, org_id: str | None, **extra: Any
) -> httpx.Response:
    body = {"url": url, "event_types": [COMPLETED], **extra}
    if org_id:
        body["organization_id"] = org_id
    return await client.post("/api/v1/webhooks/", json=body, headers=user.headers)


async def test_crud_is_organization_scoped(
    client: httpx.AsyncClient, make_user: Any, make_org: Any
) -> None:
    owner, member, outsider = await make_user(), await make_user(), await make_user()
    org = await make_org(owner, member)
    other_org = await make_org(outsider)
    created = await create_hook(client, owner, "https://93.184.215.14/a", org["id"])
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    assert hook["organization_id"] == org["id"]
    assert hook["event_types"] == [COMPLETED]

    listed = await client.get(
        "/api/v1/webhooks/", params={"organization_id": org["id"]}, headers=member.headers
    )
    assert listed.json()["count"] == 1
    assert "secret" not in listed.json()["data"][0]
    got = await client.get(
        f"/api/v1/webhooks/{hook['id']}",
        params={"organization_id": org["id"]},
        headers=member.headers,
    )
    assert got.status_code == 200
    assert "secret" not in got.json()
    # Personal scope, another organization, or a non-member asking: nothing to see.
    assert (
        await client.get(f"/api/v1/webhooks/{hook['id']}", headers=member.headers)
    ).status_code == 404
    assert (
        await client.get(
            f"/api/v1/webhooks/{hook['id']}",
            params={"organization_id": other_org["id"]},
            headers=outsider.headers,
        )
    ).status_code == 404
    assert (
        await client.get(
            "/api/v1/webhooks/", params={"organization_id": org["id"]}, headers=outsider.headers
        )
    ).status_code == 403
    assert (
        await create_hook(client, outsider, "https://93.184.215.14/h", org["id"])
    ).status_code == 403

    patched = await client.patch(
        f"/api/v1/webhooks/{hook['id']}",
        params={"organization_id": org["id"]},
        json={"event_types": [COMPLETED, "prediction.progress"], "is_active": False},
        headers=member.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["event_types"] == [COMPLETED, "prediction.progress"]
    assert patched.json()["is_active"] is False

    deleted = await client.delete(
        f"/api/v1/webhooks/{hook['id']}",
        params={"organization_id": org["id"]},
        headers=owner.headers,
    )
    assert deleted.status_code == 200
    listed = await client.get(
        "/api/v1/webhooks/", params={"organization_id": org["id"]}, headers=owner.headers
    )
    assert listed.json() == {"data": [], "count": 0}


async def test_bad_targets_and_filters_are_refused(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    for url in (
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest",
        "http://10.1.2.3/",
        "ftp://example.com/",
    ):
        r = await create_hook(client, user, url, None)
        assert r.status_code == 422, url
        assert r.json()["detail"][0]["loc"] == ["body", "url"]
    r = await client.post(
        "/api/v1/webhooks/",
        json={"url": "https://93.184.215.14/h", "event_types": ["generation.exploded"]},
        headers=user.headers,
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/webhooks/",
        json={"url": "https://93.184.215.14/h", "event_types": []},
        headers=user.headers,
    )
    assert r.status_code == 422


async def deliveries(client: httpx.AsyncClient, user: TestUser, hook: dict[str, Any]) -> Any:
    params = {"organization_id": hook["organization_id"]} if hook["organization_id"] else {}
    r = await client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", params=params, headers=user.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_signed_delivery_retried_after_500_with_same_webhook_id(
    database_url: str, make_user: Any, make_org: Any
) -> None:
    owner = await make_user()
    org = await make_org(owner)
    with webhook_receiver(script=[500]) as receiver:
        async with app_instance(database_url, **FAST_WEBHOOKS) as (app, c):
            created = await create_hook(c, owner, receiver.url, org["id"])
            assert created.status_code == 201, created.text
            hook = created.json()
            receiver.secret = hook["secret"]
            generation_id = uuid.uuid4()
            bus = app.state.event_bus
            await bus.publish(
                GenerationEvent(
                    type=EventType.GENERATION_COMPLETED,
                    generation_id=generation_id,
                    organization_id=uuid.UUID(org["id"]),
                    data={"status": "COMPLETED"},
                )
            )
            # Filtered out: another type, another organization.
            await bus.publish(
                GenerationEvent(
                    type=EventType.PREDICTION_PROGRESS,
                    generation_id=generation_id,
                    organization_id=uuid.UUID(org["id"]),
                )
            )
            await bus.publish(
                GenerationEvent(
                    type=EventType.GENERATION_COMPLETED,
                    generation_id=uuid.uuid4(),
                    organization_id=uuid.uuid4(),
                )
            )

            async def succeeded() -> bool:
                log = await deliveries(c, owner, hook)
                return bool(log["count"] == 1 and log["data"][0]["status"] == "SUCCEEDED")

            await eventually(succeeded)
            log = await deliveries(c, owner, hook)

    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.verified and second.verified
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["webhook-signature"].startswith("v1,")
    assert first.body == second.body
    assert first.body["type"] == COMPLETED
    assert first.body["data"]["generation_id"] == str(generation_id)
    assert first.body["data"]["status"] == "COMPLETED"

    delivery = log["data"][0]
    assert delivery["message_id"] == first.headers["webhook-id"]
    assert delivery["attempt_count"] == 2
    assert [(a["number"], a["status_code"], a["succeeded"]) for a in delivery["attempts"]] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert delivery["attempts"][0]["error"] == "HTTP 500"


async def test_resend_and_ping_keep_ids_and_log_attempts(database_url: str, user: TestUser) -> None:
    with webhook_receiver() as receiver:
        async with app_instance(database_url, **FAST_WEBHOOKS) as (_app, c):
            hook = (await create_hook(c, user, receiver.url, None)).json()
            receiver.secret = hook["secret"]
            pinged = await c.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=user.headers)
            assert pinged.status_code == 202
            delivery_id = pinged.json()["id"]

            async def attempts(n: int) -> bool:
                log = await deliveries(c, user, hook)
                return bool(log["data"] and len(log["data"][0]["attempts"]) == n)

            await eventually(lambda: attempts(1))
            resent = await c.post(
                f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery_id}/resend",
                headers=user.headers,
            )
            assert resent.status_code == 202
            assert resent.json()["status"] == "PENDING"
            await eventually(lambda: attempts(2))
            missing = await c.post(
                f"/api/v1/webhooks/{hook['id']}/deliveries/{uuid.uuid4()}/resend",
                headers=user.headers,
            )
            assert missing.status_code == 404
    assert [r.body["type"] for r in receiver.received] == ["webhook.ping", "webhook.ping"]
    assert all(r.verified for r in receiver.received)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


async def test_retries_stop_when_the_window_closes(database_url: str, user: TestUser) -> None:
    with webhook_receiver(script=[500] * 50) as receiver:
        async with app_instance(
            database_url, **{**FAST_WEBHOOKS, "WEBHOOK_RETRY_WINDOW_SECONDS": 1.0}
        ) as (_app, c):
            hook = (await create_hook(c, user, receiver.url, None)).json()
            await c.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=user.headers)

            async def failed() -> bool:
                log = await deliveries(c, user, hook)
                return bool(log["data"] and log["data"][0]["status"] == "FAILED")

            await eventually(failed)
            delivery = (await deliveries(c, user, hook))["data"][0]
    assert delivery["attempt_count"] >= 2
    assert len(delivery["attempts"]) == delivery["attempt_count"] == len(receiver.received)
    assert delivery["next_attempt_at"] is None
    assert delivery["last_error"] == "HTTP 500"


async def test_target_is_checked_again_at_delivery(database_url: str, user: TestUser) -> None:
    with webhook_receiver() as receiver:
        async with app_instance(database_url, OUTBOUND_ALLOWED_HOSTS="127.0.0.1") as (_a, c):
            hook = (await create_hook(c, user, receiver.url, None)).json()
            await c.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=user.headers)
        # A dispatcher whose policy no longer admits loopback refuses to send, for good.
        strict = {**FAST_WEBHOOKS, "OUTBOUND_ALLOWED_HOSTS": ""}
        async with app_instance(database_url, **strict) as (_a, c):

            async def failed() -> bool:
                log = await deliveries(c, user, hook)
                return bool(log["data"][0]["status"] == "FAILED")

            await eventually(failed)
            delivery = (await deliveries(c, user, hook))["data"][0]
    assert receiver.received == []
    assert delivery["attempt_count"] == 1
    assert delivery["last_error"].startswith("URL refused")


async def test_an_event_seen_by_two_replicas_is_delivered_once(
    database_url: str, user: TestUser
) -> None:
    async with (
        app_instance(database_url, OUTBOUND_ALLOWED_HOSTS="127.0.0.1") as (first, c),
        app_instance(database_url) as (second, _c),
    ):
        hook = (await create_hook(c, user, "http://127.0.0.1:9/hook", None)).json()
        seen = GenerationEvent(
            type=EventType.GENERATION_COMPLETED, generation_id=uuid.uuid4(), owner_id=user.id
        )
        assert await first.state.webhook_dispatcher.enqueue_event(seen) == 1
        assert await second.state.webhook_dispatcher.enqueue_event(seen) == 0
        log = await deliveries(c, user, hook)
        # Nothing left behind for the dispatchers of other tests.
        await c.delete(f"/api/v1/webhooks/{hook['id']}", headers=user.headers)
    assert log["count"] == 1
    assert log["data"][0]["status"] == "PENDING"


async def test_a_burst_of_events_is_queued_in_few_transactions(
    database_url: str, make_user: Any
) -> None:
    owner, other = await make_user(), await make_user()
    batches: list[int] = []

    def spy(application: Any) -> None:
        dispatcher = application.state.webhook_dispatcher
        original = dispatcher.enqueue_events

        async def enqueue_events(events: list[GenerationEvent]) -> int:
            batches.append(len(events))
            return int(await original(events))

        dispatcher.enqueue_events = enqueue_events

    with webhook_receiver() as receiver:
        async with app_instance(database_url, spy, **FAST_WEBHOOKS) as (application, c):
            hook = (await create_hook(c, owner, receiver.url, None)).json()
            receiver.secret = hook["secret"]
            bus = application.state.event_bus
            for index in range(30):
                # Wanted: the owner's completions. Not: another type, another owner.
                kind, who = [
                    (EventType.GENERATION_COMPLETED, owner.id),
                    (EventType.PREDICTION_PROGRESS, owner.id),
                    (EventType.GENERATION_COMPLETED, other.id),
                ][index % 3]
                await bus.publish(
                    GenerationEvent(type=kind, generation_id=uuid.uuid4(), owner_id=who)
                )

            async def all_sent() -> bool:
                # Recorded, not only received: nothing may still be writing when the app stops.
                log = await deliveries(c, owner, hook)
                return log["count"] == 10 and all(d["status"] == "SUCCEEDED" for d in log["data"])

            await eventually(all_sent)
            log = await deliveries(c, owner, hook)
            await c.delete(f"/api/v1/webhooks/{hook['id']}", headers=owner.headers)
    assert log["count"] == 10
    assert all(r.verified and r.body["type"] == COMPLETED for r in receiver.received)
    assert sum(batches) == 30
    assert len(batches) < 30, "every event got its own transaction"


async def test_stopping_survives_a_dispatcher_task_that_failed(
    database_url: str, caplog: Any
) -> None:
    from app.core.db import Database
    from app.services.webhook_dispatcher import WebhookDispatcher
    from tests.conftest import make_settings

    class BrokenBus:
        async def subscribe(self) -> Any:
            raise ConnectionError("bus gone")
            yield  # an async generator, as the real buses are

    settings = make_settings(database_url)
    db = Database(settings)
    dispatcher = WebhookDispatcher(db, settings)
    try:
        dispatcher.start(BrokenBus())  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
        await dispatcher.stop()  # the failed consumer is logged, not raised
    finally:
        await db.dispose()
    assert "ended with an error" in caplog.text


async def test_events_nobody_subscribed_to_cost_no_transaction(
    client: httpx.AsyncClient, app: Any, make_user: Any, make_org: Any
) -> None:
    pool = await app.state.db.driver_pool()
    if pool is None:
        return  # SQLite: every batch takes the transaction path
    from app.repositories.webhooks import may_deliver

    owner, loner = await make_user(), await make_user()
    org, quiet_org = await make_org(owner), await make_org(loner)
    personal = (await create_hook(client, owner, "https://93.184.215.14/p", None)).json()
    shared = (await create_hook(client, owner, "https://93.184.215.14/o", org["id"])).json()
    org_id, quiet_id = uuid.UUID(org["id"]), uuid.UUID(quiet_org["id"])
    try:
        assert await may_deliver(pool, [], [owner.id], [])
        assert await may_deliver(pool, [org_id], [], [])
        assert not await may_deliver(pool, [quiet_id], [loner.id], [uuid.uuid4()])
        # An inactive endpoint delivers nothing.
        r = await client.patch(
            f"/api/v1/webhooks/{personal['id']}", json={"is_active": False}, headers=owner.headers
        )
        assert r.status_code == 200, r.text
        assert not await may_deliver(pool, [], [owner.id], [])
        # Through the dispatcher: the loner's events are dropped without a session.
        opened: list[object] = []
        dispatcher = app.state.webhook_dispatcher
        sessionmaker = app.state.db.sessionmaker
        app.state.db.sessionmaker = lambda: opened.append(1) or sessionmaker()
        try:
            event = GenerationEvent(
                type=EventType.GENERATION_COMPLETED, generation_id=uuid.uuid4(), owner_id=loner.id
            )
            assert await dispatcher.enqueue_events([event]) == 0
            assert opened == []
        finally:
            app.state.db.sessionmaker = sessionmaker
    finally:
        for hook, params in ((personal, {}), (shared, {"organization_id": org["id"]})):
            await client.delete(
                f"/api/v1/webhooks/{hook['id']}", params=params, headers=owner.headers
            )

"""The worker side of webhooks: turn bus events into deliveries, send due deliveries.

Deliveries are rows, so they survive restarts and any number of dispatchers can share them:
each takes a due delivery with a short lease (a conditional UPDATE, portable across
PostgreSQL and SQLite), sends it, records the attempt and schedules the next one with
exponential backoff and jitter until the retry window closes. Requests never send webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy.exc import IntegrityError
from standardwebhooks import Webhook

from app.core.backoff import jittered_backoff
from app.core.config import Settings
from app.core.db import Database
from app.core.url_guard import FetchError, UnsafeURLError, send_checked
from app.events.bus import EventBus, GenerationEvent
from app.models.webhook import DeliveryStatus, WebhookAttempt, WebhookDelivery
from app.repositories.webhooks import WebhookRepository, may_deliver
from app.services import webhooks

logger = logging.getLogger(__name__)
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 1024
EVENT_BATCH = 500


def signed_headers(
    message_id: str, body: bytes, secret: str | None, when: datetime
) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
    }
    if secret:
        headers["webhook-signature"] = Webhook(secret).sign(message_id, when, body.decode())
    return headers


class WebhookDispatcher:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._semaphore = asyncio.Semaphore(settings.WEBHOOK_CONCURRENCY)

    def wake(self) -> None:
        self._wake.set()

    # --- events -> deliveries ---

    async def enqueue_event(self, event: GenerationEvent) -> int:
        return await self.enqueue_events([event])

    async def enqueue_events(self, events: list[GenerationEvent]) -> int:
        if not await self._may_deliver(events):
            return 0
        for _ in range(3):
            async with self.db.sessionmaker() as session:
                try:
                    queued = await webhooks.enqueue_for_events(session, self.settings, events)
                    for event in events:
                        queued += await webhooks.enqueue_generation_callback(
                            session, self.settings, event
                        )
                    await session.commit()
                except IntegrityError:
                    # Another replica queued some of these first; the retry skips them.
                    await session.rollback()
                    continue
            if queued:
                self.wake()
            return queued
        return 0

    async def _may_deliver(self, events: list[GenerationEvent]) -> bool:
        """Most events concern owners without webhooks and generations without callbacks:
        on PostgreSQL one cheap query says so, instead of a transaction of ORM queries."""
        pool = await self.db.driver_pool()
        if pool is None:
            return True
        return await may_deliver(
            pool,
            {e.organization_id for e in events if e.organization_id is not None},
            {e.owner_id for e in events if e.organization_id is None and e.owner_id is not None},
            {e.generation_id for e in events if e.type in webhooks.FINAL_EVENTS},
        )

    async def consume(self, bus: EventBus) -> None:
        """Turn events into deliveries, the events that arrived meanwhile in one transaction
        (a generation publishes several events; one transaction each was most of the
        dispatcher's cost under load)."""
        backlog: asyncio.Queue[GenerationEvent] = asyncio.Queue(EVENT_BATCH)

        async def read() -> None:
            async for event in bus.subscribe():
                # Waits when the backlog is full: the bus's own bounded queue then applies.
                await backlog.put(event)

        reader = asyncio.create_task(read(), name="webhook-event-reader")
        try:
            while True:
                if reader.done():
                    reader.result()  # the subscription ended: say why
                    return
                batch = [await backlog.get()]
                while not backlog.empty():
                    batch.append(backlog.get_nowait())
                try:
                    await self.enqueue_events(batch)
                except Exception:
                    logger.exception("could not queue webhooks for %d events", len(batch))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    # --- sending ---

    async def run_once(self) -> int:
        """Send every delivery due now; returns how many were sent."""
        now = datetime.now(UTC)
        lease_until = now + timedelta(seconds=self.settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 30)
        async with self.db.sessionmaker() as session:
            repo = WebhookRepository(session)
            candidates = await repo.due_delivery_ids(now, self.settings.WEBHOOK_CONCURRENCY * 4)
            leased = [d for d in candidates if await repo.lease(d, now, lease_until)]
            await session.commit()
        await asyncio.gather(*(self._send_guarded(d) for d in leased))
        return len(leased)

    async def _send_guarded(self, delivery_id: uuid.UUID) -> None:
        async with self._semaphore:
            try:
                await self.send(delivery_id)
            except Exception:
                logger.exception("webhook delivery %s crashed", delivery_id)

    async def send(self, delivery_id: uuid.UUID) -> None:
        async with self.db.sessionmaker() as session:
            repo = WebhookRepository(session)
            delivery = await session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return
            secret: str | None = None
            url = delivery.url
            if delivery.signing_scope is not None:
                signing = await repo.callback_secret(delivery.signing_scope)
                if signing is None:
                    # Deleted with its organization or user: never send it unsigned.
                    self._finish(delivery, DeliveryStatus.FAILED, None, "signing secret deleted")
                    session.add(delivery)
                    await session.commit()
                    return
                secret = signing.secret
            if delivery.endpoint_id is not None:
                endpoint = await repo.get_endpoint(delivery.endpoint_id)
                if endpoint is None:
                    return
                url, secret = endpoint.url, endpoint.secret
                if not endpoint.is_active:
                    self._finish(delivery, DeliveryStatus.FAILED, None, "endpoint is disabled")
                    session.add(delivery)
                    await session.commit()
                    return
            assert url is not None
            attempt_number = delivery.attempt_count + 1
            body = orjson.dumps(delivery.payload)
            started = time.perf_counter()
            status_code: int | None = None
            error: str | None = None
            excerpt: str | None = None
            permanent = False
            try:
                response, content = await send_checked(
                    "POST",
                    url,
                    self.settings.outbound_policy,
                    headers=signed_headers(delivery.message_id, body, secret, datetime.now(UTC)),
                    content=body,
                    timeout=self.settings.WEBHOOK_TIMEOUT_SECONDS,
                    max_redirects=0,
                    max_bytes=MAX_RESPONSE_BYTES,
                )
                status_code = response.status_code
                excerpt = content[:EXCERPT_CHARS].decode("utf-8", errors="replace") or None
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}"
            except UnsafeURLError as exc:
                # Checked again at delivery: DNS may now point somewhere private. Not retried.
                error, permanent = f"URL refused: {exc}", True
            except FetchError as exc:
                error = str(exc)
            duration_ms = int((time.perf_counter() - started) * 1000)
            await repo.add_attempt(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    number=attempt_number,
                    status_code=status_code,
                    error=error[:1024] if error else None,
                    duration_ms=duration_ms,
                    response_excerpt=excerpt,
                )
            )
            delivery.attempt_count = attempt_number
            delivery.last_status_code = status_code
            if error is None:
                self._finish(delivery, DeliveryStatus.SUCCEEDED, status_code, None)
            else:
                self._schedule_retry(delivery, error, permanent)
            session.add(delivery)
            await session.commit()
        if error is not None and not permanent:
            logger.info(
                "webhook delivery %s attempt %d failed: %s", delivery_id, attempt_number, error
            )

    def _finish(
        self,
        delivery: WebhookDelivery,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
    ) -> None:
        delivery.status = status
        delivery.next_attempt_at = None
        delivery.locked_until = None
        delivery.last_error = error[:1024] if error else None
        if status_code is not None:
            delivery.last_status_code = status_code

    def _schedule_retry(self, delivery: WebhookDelivery, error: str, permanent: bool) -> None:
        now = datetime.now(UTC)
        # attempt_count already counts the attempt that just failed.
        delay = jittered_backoff(
            max(delivery.attempt_count - 1, 0),
            self.settings.WEBHOOK_RETRY_BASE_SECONDS,
            self.settings.WEBHOOK_RETRY_MAX_DELAY_SECONDS,
        )
        next_at = now + timedelta(seconds=delay)
        if permanent or next_at > delivery.deadline:
            self._finish(delivery, DeliveryStatus.FAILED, None, error)
            return
        delivery.last_error = error[:1024]
        delivery.next_attempt_at = next_at
        delivery.locked_until = None

    # --- lifecycle ---

    async def run(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except Exception:
                logger.exception("webhook dispatcher pass failed")
                sent = 0
            if sent:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.WEBHOOK_POLL_SECONDS)
            self._wake.clear()

    def start(self, bus: EventBus | None) -> None:
        self._tasks.append(asyncio.create_task(self.run(), name="webhook-dispatcher"))
        if bus is not None:
            self._tasks.append(asyncio.create_task(self.consume(bus), name="webhook-events"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                # Whatever ended it, shutting down goes on (the database and the bus still
                # have to be closed after this).
                logger.exception("webhook task %s ended with an error", task.get_name())
        self._tasks.clear()

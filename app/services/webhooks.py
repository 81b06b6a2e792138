"""Webhook endpoints (organization-scoped) and the deliveries queued for them."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.errors import InvalidInput, NotFound
from app.core.url_guard import FetchError, UnsafeURLError, check_url
from app.events.bus import EventType, GenerationEvent
from app.models.webhook import (
    PING_EVENT,
    CallbackSecret,
    DeliveryStatus,
    WebhookAttemptPublic,
    WebhookDelivery,
    WebhookDeliveryPublic,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
)
from app.repositories.generations import GenerationRepository
from app.repositories.webhooks import WebhookRepository
from app.services.auth import Principal
from app.services.tenancy import OwnerScope, resolve_scope


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


async def check_target(url: str, settings: Settings, loc: list[str | int]) -> None:
    try:
        await check_url(url, settings.outbound_policy)
    except (UnsafeURLError, FetchError) as exc:
        raise InvalidInput.field(loc, f"URL refused: {exc}", url) from exc


async def create_endpoint(
    session: AsyncSession, settings: Settings, principal: Principal, data: WebhookEndpointCreate
) -> WebhookEndpoint:
    scope = await resolve_scope(session, principal, data.organization_id)
    await check_target(data.url, settings, ["body", "url"])
    endpoint = WebhookEndpoint(
        url=data.url,
        description=data.description,
        is_active=data.is_active,
        event_types=[str(t) for t in data.event_types],
        secret=new_secret(),
        owner_id=principal.user.id,
        organization_id=scope.organization_id,
    )
    return await WebhookRepository(session).add_endpoint(endpoint)


async def list_endpoints(
    session: AsyncSession, scope: OwnerScope, *, skip: int, limit: int
) -> tuple[list[WebhookEndpoint], int]:
    condition = scope.condition(WebhookEndpoint.owner_id, WebhookEndpoint.organization_id)
    return await WebhookRepository(session).list_endpoints(condition, skip=skip, limit=limit)


async def get_endpoint(
    session: AsyncSession, scope: OwnerScope, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await WebhookRepository(session).get_endpoint(endpoint_id)
    if endpoint is None or not scope.can_see(endpoint.owner_id, endpoint.organization_id):
        raise NotFound("Webhook not found")
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    settings: Settings,
    scope: OwnerScope,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, scope, endpoint_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        await check_target(changes["url"], settings, ["body", "url"])
    for field in ("url", "description", "is_active"):
        if field in changes and (changes[field] is not None or field == "description"):
            setattr(endpoint, field, changes[field])
    if data.event_types is not None:
        endpoint.event_types = [str(t) for t in data.event_types]
    session.add(endpoint)
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, scope: OwnerScope, endpoint_id: uuid.UUID) -> None:
    endpoint = await get_endpoint(session, scope, endpoint_id)
    await WebhookRepository(session).delete_endpoint(endpoint)


def to_public(
    delivery: WebhookDelivery, attempts: list[Any] | None = None
) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic.model_validate(
        delivery,
        update={
            "attempts": [
                WebhookAttemptPublic.model_validate(
                    a,
                    update={"succeeded": a.status_code is not None and 200 <= a.status_code < 300},
                )
                for a in attempts or []
            ]
        },
    )


async def list_deliveries(
    session: AsyncSession,
    scope: OwnerScope,
    endpoint_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    skip: int,
    limit: int,
) -> tuple[list[WebhookDeliveryPublic], int]:
    await get_endpoint(session, scope, endpoint_id)
    repo = WebhookRepository(session)
    rows, count = await repo.list_deliveries(endpoint_id, status=status, skip=skip, limit=limit)
    attempts = await repo.attempts_for([d.id for d in rows])
    return [to_public(d, attempts.get(d.id)) for d in rows], count


def envelope(event_type: str, data: dict[str, Any], when: datetime) -> dict[str, Any]:
    """The Standard Webhooks payload shape."""
    return {"type": event_type, "timestamp": when.isoformat(), "data": data}


def event_data(event: GenerationEvent) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "generation_id": str(event.generation_id),
        "prediction_id": str(event.prediction_id) if event.prediction_id else None,
        "organization_id": str(event.organization_id) if event.organization_id else None,
        **event.data,
    }


def _new_delivery(
    settings: Settings,
    *,
    dedupe_key: str,
    event_type: str,
    payload: dict[str, Any],
    endpoint_id: uuid.UUID | None = None,
    url: str | None = None,
    generation_id: uuid.UUID | None = None,
) -> WebhookDelivery:
    now = datetime.now(UTC)
    return WebhookDelivery(
        endpoint_id=endpoint_id,
        url=url,
        dedupe_key=dedupe_key,
        message_id=new_message_id(),
        event_type=event_type,
        generation_id=generation_id,
        payload=payload,
        next_attempt_at=now,
        deadline=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS),
    )


async def enqueue_for_event(
    session: AsyncSession, settings: Settings, event: GenerationEvent
) -> int:
    """Queue one delivery per active endpoint of the event's owner that wants this type."""
    return await enqueue_for_events(session, settings, [event])


async def enqueue_for_events(
    session: AsyncSession, settings: Settings, events: Sequence[GenerationEvent]
) -> int:
    """`enqueue_for_event` for several events in the caller's transaction; the endpoints of
    each owner are looked up once."""
    repo = WebhookRepository(session)
    endpoints_of: dict[tuple[uuid.UUID | None, uuid.UUID | None], list[WebhookEndpoint]] = {}
    queued = 0
    for event in events:
        owner = (event.organization_id, event.owner_id)
        if owner not in endpoints_of:
            endpoints_of[owner] = await repo.active_endpoints_for(*owner)
        wanted = [e for e in endpoints_of[owner] if str(event.type) in e.event_types]
        if not wanted:
            continue
        payload = envelope(str(event.type), event_data(event), event.occurred_at)
        for endpoint in wanted:
            delivery = _new_delivery(
                settings,
                dedupe_key=f"{endpoint.id}:{event.id}",
                event_type=str(event.type),
                payload=payload,
                endpoint_id=endpoint.id,
                generation_id=event.generation_id,
            )
            queued += await repo.add_delivery_once(delivery)
    return queued


async def enqueue_callback(
    session: AsyncSession,
    settings: Settings,
    *,
    url: str,
    event: GenerationEvent,
    data: dict[str, Any],
    signing_scope: str,
) -> bool:
    """Queue the per-request callback of a generation (its `config.callback_url`)."""
    delivery = _new_delivery(
        settings,
        dedupe_key=f"callback:{event.generation_id}:{event.id}",
        event_type=str(event.type),
        payload=envelope(str(event.type), data, event.occurred_at),
        url=url,
        generation_id=event.generation_id,
    )
    delivery.signing_scope = signing_scope
    return await WebhookRepository(session).add_delivery_once(delivery)


async def _ensure_callback_secret(
    session: AsyncSession, owner_id: uuid.UUID, organization_id: uuid.UUID | None
) -> CallbackSecret:
    """The callback secret of an organization, or of the user's personal space."""
    if organization_id is not None:
        fresh = CallbackSecret(
            scope=f"organization:{organization_id}",
            organization_id=organization_id,
            secret=new_secret(),
        )
    else:
        fresh = CallbackSecret(scope=f"user:{owner_id}", user_id=owner_id, secret=new_secret())
    return await WebhookRepository(session).add_callback_secret_once(fresh)


async def callback_secret(session: AsyncSession, scope: OwnerScope) -> CallbackSecret:
    """The secret the scope's callbacks are signed with, created on first use. Any member
    may read it: members are who create generations with callbacks, and verify them."""
    return await _ensure_callback_secret(session, scope.user_id, scope.organization_id)


async def rotate_callback_secret(session: AsyncSession, scope: OwnerScope) -> CallbackSecret:
    """A new secret for the scope; callbacks sent from now on, retries included, use it."""
    secret = await _ensure_callback_secret(session, scope.user_id, scope.organization_id)
    secret.secret = new_secret()
    secret.updated_at = datetime.now(UTC)
    session.add(secret)
    await session.flush()
    return secret


FINAL_EVENTS = frozenset(
    {EventType.GENERATION_COMPLETED, EventType.GENERATION_FAILED, EventType.GENERATION_CANCELLED}
)


async def enqueue_generation_callback(
    session: AsyncSession, settings: Settings, event: GenerationEvent
) -> int:
    """On a generation's final event, queue a delivery to its `config.callback_url`, if any
    (checked by the URL guard at creation, and again at every delivery)."""
    if event.type not in FINAL_EVENTS:
        return 0
    repo = GenerationRepository(session)
    generation = await repo.get(event.generation_id)
    url = (generation.config or {}).get("callback_url") if generation is not None else None
    if generation is None or not isinstance(url, str) or not url:
        return 0
    prefix = settings.API_V1_STR
    predictions = [
        {
            "id": str(p.id),
            "status": str(p.status),
            "seed": p.seed,
            "result_image_url": (
                f"{prefix}/predictions/{p.id}/image" if p.result_image_key else None
            ),
            "result_sha256": p.result_sha256,
            "score": (p.evaluation or {}).get("score"),
            "error_message": p.error_message,
        }
        for p in await repo.predictions_of([generation.id])
    ]
    data = event_data(event) | {
        "generation_url": f"{prefix}/generations/{generation.id}",
        "error_message": generation.error_message,
        "predictions": predictions,
    }
    signing = await _ensure_callback_secret(
        session, generation.owner_id, generation.organization_id
    )
    queued = await enqueue_callback(
        session, settings, url=url, event=event, data=data, signing_scope=signing.scope
    )
    return int(queued)


async def ping(
    session: AsyncSession, settings: Settings, scope: OwnerScope, endpoint_id: uuid.UUID
) -> WebhookDeliveryPublic:
    endpoint = await get_endpoint(session, scope, endpoint_id)
    delivery = _new_delivery(
        settings,
        dedupe_key=f"{endpoint.id}:ping:{uuid.uuid4().hex}",
        event_type=PING_EVENT,
        payload=envelope(PING_EVENT, {"webhook_id": str(endpoint.id)}, datetime.now(UTC)),
        endpoint_id=endpoint.id,
    )
    await WebhookRepository(session).add_delivery_once(delivery)
    return to_public(delivery)


async def resend(
    session: AsyncSession,
    settings: Settings,
    scope: OwnerScope,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDeliveryPublic:
    """Send a delivery again, with a fresh retry window; `webhook-id` stays the same."""
    await get_endpoint(session, scope, endpoint_id)
    repo = WebhookRepository(session)
    delivery = await repo.get_delivery(delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound("Delivery not found")
    now = datetime.now(UTC)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.locked_until = None
    delivery.deadline = now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS)
    session.add(delivery)
    await session.flush()
    attempts = await repo.attempts_for([delivery.id])
    return to_public(delivery, attempts.get(delivery.id))

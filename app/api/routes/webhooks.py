from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request

from app.api.deps import (
    CurrentPrincipal,
    LimitQuery,
    OwnerScopeDep,
    SessionDep,
    SettingsDep,
    SkipQuery,
)
from app.models.common import Message
from app.models.webhook import (
    CallbackSecretPublic,
    DeliveryStatus,
    WebhookDeliveriesPublic,
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPublic,
    WebhookEndpointsPublic,
    WebhookEndpointUpdate,
)
from app.services import webhooks as service

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _wake_dispatcher(request: Request, background: BackgroundTasks) -> None:
    # After the response, i.e. after the request's transaction committed the delivery.
    dispatcher = getattr(request.app.state, "webhook_dispatcher", None)
    if dispatcher is not None:
        background.add_task(dispatcher.wake)


@router.get("/")
async def read_webhooks(
    session: SessionDep, scope: OwnerScopeDep, skip: SkipQuery = 0, limit: LimitQuery = 100
) -> WebhookEndpointsPublic:
    """Webhook endpoints of the organization (`organization_id`), or your personal ones."""
    rows, count = await service.list_endpoints(session, scope, skip=skip, limit=limit)
    return WebhookEndpointsPublic(
        data=[WebhookEndpointPublic.model_validate(e) for e in rows], count=count
    )


@router.post("/", status_code=201)
async def create_webhook(
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    webhook_in: WebhookEndpointCreate,
) -> WebhookEndpointCreated:
    """Register an endpoint for events of an organization (or your own generations).

    Deliveries are signed the Standard Webhooks way: `webhook-id` (the same on every retry),
    `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
    "{id}.{timestamp}.{body}">` with the secret returned here, once.
    """
    endpoint = await service.create_endpoint(session, settings, principal, webhook_in)
    return WebhookEndpointCreated.model_validate(endpoint)


# Before the `/{webhook_id}` routes, which would take "callback-secret" for an id.
@router.get("/callback-secret")
async def read_callback_secret(session: SessionDep, scope: OwnerScopeDep) -> CallbackSecretPublic:
    """The secret that signs the per-request callbacks (`config.callback_url`) of the
    organization's generations (`organization_id`), or of your own: verify their
    `webhook-signature` as for endpoints. Created on first use."""
    secret = await service.callback_secret(session, scope)
    return CallbackSecretPublic.model_validate(secret)


@router.post("/callback-secret/rotate")
async def rotate_callback_secret(session: SessionDep, scope: OwnerScopeDep) -> CallbackSecretPublic:
    """Replace the callback secret; callbacks sent from now on, retries included, use the
    new one."""
    secret = await service.rotate_callback_secret(session, scope)
    return CallbackSecretPublic.model_validate(secret)


@router.get("/{webhook_id}")
async def read_webhook(
    session: SessionDep, scope: OwnerScopeDep, webhook_id: uuid.UUID
) -> WebhookEndpointPublic:
    endpoint = await service.get_endpoint(session, scope, webhook_id)
    return WebhookEndpointPublic.model_validate(endpoint)


@router.patch("/{webhook_id}")
async def update_webhook(
    session: SessionDep,
    settings: SettingsDep,
    scope: OwnerScopeDep,
    webhook_id: uuid.UUID,
    webhook_in: WebhookEndpointUpdate,
) -> WebhookEndpointPublic:
    endpoint = await service.update_endpoint(session, settings, scope, webhook_id, webhook_in)
    return WebhookEndpointPublic.model_validate(endpoint)


@router.delete("/{webhook_id}")
async def delete_webhook(
    session: SessionDep, scope: OwnerScopeDep, webhook_id: uuid.UUID
) -> Message:
    await service.delete_endpoint(session, scope, webhook_id)
    return Message(message="Webhook deleted successfully")


@router.get("/{webhook_id}/deliveries")
async def read_webhook_deliveries(
    session: SessionDep,
    scope: OwnerScopeDep,
    webhook_id: uuid.UUID,
    status: DeliveryStatus | None = None,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
) -> WebhookDeliveriesPublic:
    """Deliveries to this endpoint, newest first, each with every attempt's outcome."""
    rows, count = await service.list_deliveries(
        session, scope, webhook_id, status=status, skip=skip, limit=limit
    )
    return WebhookDeliveriesPublic(data=rows, count=count)


@router.post("/{webhook_id}/deliveries/{delivery_id}/resend", status_code=202)
async def resend_webhook_delivery(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    scope: OwnerScopeDep,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDeliveryPublic:
    """Send a delivery again (same `webhook-id`), whatever its outcome so far."""
    delivery = await service.resend(session, settings, scope, webhook_id, delivery_id)
    _wake_dispatcher(request, background)
    return delivery


@router.post("/{webhook_id}/ping", status_code=202)
async def ping_webhook(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    scope: OwnerScopeDep,
    webhook_id: uuid.UUID,
) -> WebhookDeliveryPublic:
    """Queue a `webhook.ping` delivery to check the endpoint and its signature verification."""
    delivery = await service.ping(session, settings, scope, webhook_id)
    _wake_dispatcher(request, background)
    return delivery

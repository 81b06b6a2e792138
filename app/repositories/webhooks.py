from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Uuid,
    and_,
    any_,
    bindparam,
    exists,
    or_,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import driver_statement
from app.models.generation import Generation
from app.models.webhook import (
    CallbackSecret,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


@cache
def _may_deliver_statement() -> Select[Any]:
    endpoint = cast(Table, WebhookEndpoint.__table__).c  # type: ignore[attr-defined]
    generation = cast(Table, Generation.__table__).c  # type: ignore[attr-defined]

    def ids(name: str) -> Any:
        return any_(bindparam(name, type_=ARRAY(Uuid())))

    # A superset of what `active_endpoints_for` and the callback lookup would find: any
    # active endpoint of the events' owners (whatever types it wants), any callback URL.
    endpoints = core_select(endpoint.id).where(
        endpoint.is_active.is_(True),
        or_(
            endpoint.organization_id == ids("organizations"),
            and_(endpoint.organization_id.is_(None), endpoint.owner_id == ids("owners")),
        ),
    )
    callbacks = core_select(generation.id).where(
        generation.id == ids("finished"),
        generation.config["callback_url"].as_string().is_not(None),
    )
    return core_select(or_(exists(endpoints), exists(callbacks)))


async def may_deliver(
    pool: Any,
    organization_ids: Iterable[uuid.UUID],
    owner_ids: Iterable[uuid.UUID],
    finished_generation_ids: Iterable[uuid.UUID],
) -> bool:
    """Whether events of these owners (personal events: `owner_ids`; organization events:
    `organization_ids`) and these generations' final events may need a delivery: one
    driver-pool query that lets the dispatcher skip the transaction for most events."""
    statement = driver_statement(_may_deliver_statement())
    args = statement.args(
        {
            "organizations": list(organization_ids),
            "owners": list(owner_ids),
            "finished": list(finished_generation_ids),
        }
    )
    async with pool.acquire() as conn:
        return bool(await conn.fetchval(statement.sql, *args))


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- endpoints ---

    async def get_endpoint(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        return await self.session.get(WebhookEndpoint, endpoint_id)

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        self.session.add(endpoint)
        await self.session.flush()
        return endpoint

    async def delete_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self.session.delete(endpoint)
        await self.session.flush()

    async def list_endpoints(
        self, condition: ColumnElement[bool], *, skip: int, limit: int
    ) -> tuple[list[WebhookEndpoint], int]:
        count = (
            await self.session.exec(
                select(func.count()).select_from(WebhookEndpoint).where(condition)
            )
        ).one()
        rows = await self.session.exec(
            select(WebhookEndpoint)
            .where(condition)
            .order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
            .offset(skip)
            .limit(limit)
        )
        return list(rows.all()), count

    async def active_endpoints_for(
        self, organization_id: uuid.UUID | None, owner_id: uuid.UUID | None
    ) -> list[WebhookEndpoint]:
        query = select(WebhookEndpoint).where(col(WebhookEndpoint.is_active).is_(True))
        if organization_id is not None:
            query = query.where(WebhookEndpoint.organization_id == organization_id)
        elif owner_id is not None:
            query = query.where(
                col(WebhookEndpoint.organization_id).is_(None),
                WebhookEndpoint.owner_id == owner_id,
            )
        else:
            return []
        return list((await self.session.exec(query)).all())

    # --- callback secrets ---

    async def callback_secret(self, scope: str) -> CallbackSecret | None:
        query = select(CallbackSecret).where(CallbackSecret.scope == scope)
        return (await self.session.exec(query)).first()

    async def add_callback_secret_once(self, secret: CallbackSecret) -> CallbackSecret:
        """Insert unless the scope has one; the scope's secret either way. A concurrent
        first use meets the unique constraint inside a savepoint and reads the winner's."""
        existing = await self.callback_secret(secret.scope)
        if existing is not None:
            return existing
        try:
            async with self.session.begin_nested():
                self.session.add(secret)
        except IntegrityError:
            winner = await self.callback_secret(secret.scope)
            assert winner is not None
            return winner
        return secret

    # --- deliveries ---

    async def get_delivery(self, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        return await self.session.get(WebhookDelivery, delivery_id)

    async def add_delivery_once(self, delivery: WebhookDelivery) -> bool:
        """Insert unless a delivery with the same dedupe key exists; True when inserted.

        Two writers racing past the check meet the unique constraint: the loser's flush
        raises IntegrityError and its caller retries the whole event.
        """
        existing = await self.session.exec(
            select(WebhookDelivery.id).where(WebhookDelivery.dedupe_key == delivery.dedupe_key)
        )
        if existing.first() is not None:
            return False
        self.session.add(delivery)
        await self.session.flush()
        return True

    async def list_deliveries(
        self, endpoint_id: uuid.UUID, *, status: DeliveryStatus | None, skip: int, limit: int
    ) -> tuple[list[WebhookDelivery], int]:
        conditions: list[ColumnElement[bool]] = [col(WebhookDelivery.endpoint_id) == endpoint_id]
        if status is not None:
            conditions.append(col(WebhookDelivery.status) == status)
        count = (
            await self.session.exec(
                select(func.count()).select_from(WebhookDelivery).where(*conditions)
            )
        ).one()
        rows = await self.session.exec(
            select(WebhookDelivery)
            .where(*conditions)
            .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
            .offset(skip)
            .limit(limit)
        )
        return list(rows.all()), count

    async def attempts_for(
        self, delivery_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[WebhookAttempt]]:
        grouped: dict[uuid.UUID, list[WebhookAttempt]] = defaultdict(list)
        if not delivery_ids:
            return grouped
        rows = await self.session.exec(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(delivery_ids))
            .order_by(col(WebhookAttempt.number))
        )
        for attempt in rows.all():
            grouped[attempt.delivery_id].append(attempt)
        return grouped

    async def due_delivery_ids(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.exec(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                col(WebhookDelivery.next_attempt_at) <= now,
                or_(
                    col(WebhookDelivery.locked_until).is_(None),
                    col(WebhookDelivery.locked_until) < now,
                ),
            )
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(limit)
        )
        return list(rows.all())

    async def lease(self, delivery_id: uuid.UUID, now: datetime, until: datetime) -> bool:
        """Take a due delivery for sending; False when another dispatcher took it first."""
        result = await self.session.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == delivery_id,
                col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                or_(
                    col(WebhookDelivery.locked_until).is_(None),
                    col(WebhookDelivery.locked_until) < now,
                ),
            )
            .values(locked_until=until)
        )
        return bool(result.rowcount == 1)

    async def add_attempt(self, attempt: WebhookAttempt) -> None:
        self.session.add(attempt)
        await self.session.flush()

"""All SQL of generations and predictions, including the execution bookkeeping.

The row decides who runs a prediction: a claim is a compare-and-set on (status, lease token),
completion is a compare-and-set on the claimer's lease token, so a message delivered twice
never produces two results.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Insert,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import Database, driver_statement
from app.models.generation import (
    MAX_BATCH_SIZE,
    TERMINAL_GENERATION_STATUSES,
    Generation,
    GenerationStatus,
    GenerationStrategy,
    GenerationType,
    Prediction,
    PredictionStatus,
)
from app.repositories.rows import detached

ACTIVE_PREDICTION = (PredictionStatus.PENDING, PredictionStatus.GENERATING)


@dataclass(frozen=True)
class GenerationFilters:
    status: GenerationStatus | None = None
    strategy: GenerationStrategy | None = None
    generation_type: GenerationType | None = None
    subject_id: uuid.UUID | None = None
    product_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.status is not None:
            conditions.append(col(Generation.status) == self.status)
        if self.strategy is not None:
            conditions.append(col(Generation.generation_strategy) == self.strategy)
        if self.generation_type is not None:
            conditions.append(col(Generation.generation_type) == self.generation_type)
        if self.subject_id is not None:
            conditions.append(col(Generation.subject_id) == self.subject_id)
        if self.product_id is not None:
            conditions.append(
                or_(
                    col(Generation.product_id) == self.product_id,
                    col(Generation.product2_id) == self.product_id,
                )
            )
        if self.created_after is not None:
            conditions.append(col(Generation.created_at) >= self.created_after)
        if self.created_before is not None:
            conditions.append(col(Generation.created_at) < self.created_before)
        return conditions


@dataclass(frozen=True)
class Claim:
    generation: Generation
    seed: int
    # How many times the prediction has been claimed since it was (re)set pending.
    deliveries: int


# The statements every prediction runs, built once: constructing SQLAlchemy statements
# costs more CPU than executing them, and the worker runs these for every prediction.
PREDICTION = cast(Table, Prediction.__table__)  # type: ignore[attr-defined]
GENERATION = cast(Table, Generation.__table__)  # type: ignore[attr-defined]

# Publishes PENDING -> PROCESSING; `start_generation` decides when.
Announce = Callable[[], Awaitable[None]]


def _param(name: str, column: Column[Any]) -> BindParameter[Any]:
    return bindparam(name, type_=column.type)


def _claim_base() -> Update:
    p = PREDICTION.c
    now = _param("c_now", p.updated_at)
    return (
        update(PREDICTION)
        .where(
            p.id == _param("c_id", p.id),
            or_(
                p.status == PredictionStatus.PENDING,
                and_(p.status == PredictionStatus.GENERATING, p.lease_expires_at < now),
            ),
        )
        .values(
            status=PredictionStatus.GENERATING,
            lease_token=_param("c_token", p.lease_token),
            lease_owner=_param("c_owner", p.lease_owner),
            lease_expires_at=_param("c_until", p.lease_expires_at),
            deliveries=p.deliveries + 1,
            started_at=now,
            progress=0.0,
            updated_at=now,
        )
    )


@cache
def _claim_statement() -> Update:
    p = PREDICTION.c
    return _claim_base().returning(p.generation_id, p.seed, p.deliveries)


def _without_commit_flush() -> ColumnElement[Any]:
    """For RETURNING: the statement's own (implicit) transaction commits without waiting
    for its WAL to reach the disk (`SET LOCAL synchronous_commit = off`, this transaction
    only), a few hundred microseconds less per statement.

    Only for bookkeeping that a database crash may lose: a claim or a PENDING -> PROCESSING.
    A lost claim leaves the prediction pending, so the sweeper runs it again and the lost
    claimer's recording fails its lease check; and the recording, which does wait for the
    disk, flushes the WAL up to itself, so a durable outcome implies a durable claim."""
    return func.set_config("synchronous_commit", "off", True).label("async_commit")


@cache
def _claim_with_generation_statement() -> Update:
    # PostgreSQL's UPDATE ... FROM returns the generation's row with the claim (read, not
    # locked) in the same round trip; SQLite cannot return another table's columns.
    p = PREDICTION.c
    return (
        _claim_base()
        .where(GENERATION.c.id == p.generation_id)
        .returning(
            p.seed.label("claimed_seed"),
            p.deliveries.label("claimed_deliveries"),
            _without_commit_flush(),
            *GENERATION.c,
        )
    )


def _claim_from_row(row: Any) -> Claim:
    values = dict(row)
    seed, deliveries = values.pop("claimed_seed"), values.pop("claimed_deliveries")
    del values["async_commit"]
    # As the ORM would load it (no validation: the row is ours), detached.
    return Claim(detached(Generation, values), seed, deliveries)


def _claim_params(
    prediction_id: uuid.UUID, token: str, owner: str, now: datetime, lease_until: datetime
) -> dict[str, Any]:
    return {
        "c_id": prediction_id,
        "c_now": now,
        "c_token": token,
        "c_owner": owner,
        "c_until": lease_until,
    }


def _finish_generation_params(generation_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
    return {"f_id": generation_id} | {f"v_{key}": value for key, value in values.items()}


def _finish_prediction_params(
    prediction_id: uuid.UUID, token: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {"f_id": prediction_id, "f_token": token} | {
        f"v_{key}": value for key, value in values.items()
    }


@cache
def _start_generation_statement() -> Update:
    g = GENERATION.c
    now = _param("s_now", g.updated_at)
    return (
        update(GENERATION)
        .where(g.id == _param("s_id", g.id), g.status == GenerationStatus.PENDING)
        .values(
            status=GenerationStatus.PROCESSING,
            started_at=func.coalesce(g.started_at, now),
            updated_at=now,
        )
    )


@cache
def _start_generation_returning_statement() -> Update:
    return _start_generation_statement().returning(_without_commit_flush())


@lru_cache(maxsize=32)
def _finish_prediction_statement(keys: tuple[str, ...]) -> Update:
    p = PREDICTION.c
    return (
        update(PREDICTION)
        .where(
            p.id == _param("f_id", p.id),
            p.lease_token == _param("f_token", p.lease_token),
            p.status == PredictionStatus.GENERATING,
        )
        .values(
            {"lease_token": None, "lease_expires_at": None}
            | {key: _param(f"v_{key}", p[key]) for key in keys}
        )
    )


@lru_cache(maxsize=32)
def _finish_generation_statement(keys: tuple[str, ...]) -> Update:
    g = GENERATION.c
    return (
        update(GENERATION)
        .where(
            g.id == _param("f_id", g.id),
            # Not NOT IN: a fixed condition compiles ahead for the driver path.
            *(g.status != status for status in sorted(TERMINAL_GENERATION_STATUSES)),
        )
        .values({key: _param(f"v_{key}", g[key]) for key in keys})
    )


@lru_cache(maxsize=32)
def _finish_single_statement(
    generation_keys: tuple[str, ...], prediction_keys: tuple[str, ...]
) -> Update:
    """`_finish_generation_statement` and `_finish_prediction_statement` in one statement, for
    a generation whose only prediction this is: one round trip instead of BEGIN, two UPDATEs
    and COMMIT. The generation's row is locked first (the sub-select FOR UPDATE runs before
    the prediction's row is taken), the order cancel and retry use; the generation changes
    only if the prediction's compare-and-set did, so it is both or neither."""
    g, p = GENERATION.c, PREDICTION.c
    generation_id = _param("g_id", g.id)
    unfinished = select(g.id).where(
        g.id == generation_id,
        *(g.status != status for status in sorted(TERMINAL_GENERATION_STATUSES)),
    )
    finished = (
        update(PREDICTION)
        .where(
            p.id == _param("f_id", p.id),
            p.lease_token == _param("f_token", p.lease_token),
            p.status == PredictionStatus.GENERATING,
            p.generation_id == generation_id,
            exists(unfinished.with_for_update()),
        )
        .values(
            {"lease_token": None, "lease_expires_at": None}
            | {key: _param(f"v_{key}", p[key]) for key in prediction_keys}
        )
        .returning(p.generation_id)
        .cte("finished_prediction")
    )
    return (
        update(GENERATION)
        .where(g.id == finished.c.generation_id)
        .values({key: _param(f"g_{key}", g[key]) for key in generation_keys})
        .returning(g.id)
    )


@lru_cache(maxsize=MAX_BATCH_SIZE)
def _insert_statement(predictions: int) -> Insert:
    """A generation and its predictions in one statement (the generation in a CTE: foreign
    keys are checked at the end of the statement)."""
    new_generation = (
        insert(GENERATION)
        .values({c.key: _param(f"g_{c.key}", c) for c in GENERATION.c})
        .returning(GENERATION.c.id)
        .cte("new_generation")
    )
    rows = [{c.key: _param(f"p{i}_{c.key}", c) for c in PREDICTION.c} for i in range(predictions)]
    return insert(PREDICTION).values(rows).add_cte(new_generation)


async def insert_pooled(
    pool: Any, generation: Generation, predictions: Sequence[Prediction]
) -> None:
    """`GenerationRepository.add` and a commit, as one statement on PostgreSQL's driver pool:
    one round trip instead of BEGIN, two INSERTs and COMMIT, without the ORM's flush."""
    statement = driver_statement(_insert_statement(len(predictions)))
    params = {f"g_{c.key}": getattr(generation, c.key) for c in GENERATION.c}
    for i, prediction in enumerate(predictions):
        params |= {f"p{i}_{c.key}": getattr(prediction, c.key) for c in PREDICTION.c}
    async with pool.acquire() as conn:
        await conn.execute(statement.sql, *statement.args(params))


@dataclass(frozen=True)
class GenerationState:
    status: str
    started_at: datetime | None
    batch_size: int


class GenerationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- reads ---------------------------------------------------------------------------

    async def get(self, generation_id: uuid.UUID) -> Generation | None:
        return await self.session.get(Generation, generation_id)

    async def get_prediction(self, prediction_id: uuid.UUID) -> Prediction | None:
        return await self.session.get(Prediction, prediction_id)

    async def predictions_of(self, generation_ids: Sequence[uuid.UUID]) -> list[Prediction]:
        if not generation_ids:
            return []
        result = await self.session.exec(
            select(Prediction)  # type: ignore[call-overload]
            .where(col(Prediction.generation_id).in_(generation_ids))
            .order_by(col(Prediction.generation_id), col(Prediction.position))
        )
        return list(result.scalars().all())

    async def ids_owned_by(self, owner_id: uuid.UUID) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        """The ids of `owner_id`'s generations and of their predictions."""
        generations = await self.session.execute(
            select(col(Generation.id)).where(col(Generation.owner_id) == owner_id)
        )
        predictions = await self.session.execute(
            select(col(Prediction.id)).where(col(Prediction.owner_id) == owner_id)
        )
        return list(generations.scalars().all()), list(predictions.scalars().all())

    async def list_generations(
        self,
        scope: ColumnElement[bool],
        filters: GenerationFilters,
        *,
        skip: int,
        limit: int,
    ) -> tuple[list[Generation], int]:
        where = and_(scope, *filters.conditions())
        count = (
            await self.session.execute(select(func.count()).select_from(Generation).where(where))
        ).scalar_one()
        result = await self.session.execute(
            select(Generation)
            .where(where)
            .order_by(col(Generation.created_at).desc(), col(Generation.id).desc())
            .offset(skip)
            .limit(limit)
        )
        return list(result.scalars().all()), int(count)

    async def list_predictions(
        self,
        scope: ColumnElement[bool],
        *,
        generation_id: uuid.UUID | None,
        status: PredictionStatus | None,
        skip: int,
        limit: int,
    ) -> tuple[list[Prediction], int]:
        conditions = [scope]
        if generation_id is not None:
            conditions.append(col(Prediction.generation_id) == generation_id)
        if status is not None:
            conditions.append(col(Prediction.status) == status)
        where = and_(*conditions)
        count = (
            await self.session.execute(select(func.count()).select_from(Prediction).where(where))
        ).scalar_one()
        result = await self.session.execute(
            select(Prediction)
            .where(where)
            .order_by(
                col(Prediction.created_at).desc(),
                col(Prediction.generation_id),
                col(Prediction.position),
            )
            .offset(skip)
            .limit(limit)
        )
        return list(result.scalars().all()), int(count)

    # --- writes from the API -------------------------------------------------------------

    async def add(self, generation: Generation, predictions: Sequence[Prediction]) -> None:
        self.session.add(generation)
        await self.session.flush()
        self.session.add_all(predictions)
        await self.session.flush()

    async def lock_generation(self, generation_id: uuid.UUID, now: datetime) -> bool:
        """Serialise state changes of one generation (a row lock; SQLite's write lock)."""
        result = await self.session.execute(
            update(Generation).where(col(Generation.id) == generation_id).values(updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def lock_generation_state(
        self, generation_id: uuid.UUID, now: datetime
    ) -> GenerationState | None:
        """`lock_generation`, returning what settling needs (saves a read under the lock)."""
        row = (
            await self.session.execute(
                update(Generation)
                .where(col(Generation.id) == generation_id)
                .values(updated_at=now)
                .returning(
                    col(Generation.status), col(Generation.started_at), col(Generation.batch_size)
                )
            )
        ).first()
        return GenerationState(*row) if row is not None else None

    async def cancel_active(self, generation_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
        result = await self.session.execute(
            update(Prediction)
            .where(
                col(Prediction.generation_id) == generation_id,
                col(Prediction.status).in_(ACTIVE_PREDICTION),
            )
            .values(
                status=PredictionStatus.CANCELLED,
                finished_at=now,
                lease_token=None,
                lease_expires_at=None,
                error_message="Cancelled",
                error_category="cancelled",
                updated_at=now,
            )
            .returning(col(Prediction.id))
        )
        return [row[0] for row in result.all()]

    async def reset_for_retry(self, generation_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
        result = await self.session.execute(
            update(Prediction)
            .where(
                col(Prediction.generation_id) == generation_id,
                col(Prediction.status).in_((PredictionStatus.ERROR, PredictionStatus.CANCELLED)),
            )
            .values(
                status=PredictionStatus.PENDING,
                retry_count=col(Prediction.retry_count) + 1,
                error_message=None,
                error_category=None,
                provider=None,
                fallback_used=False,
                fallback_reason=None,
                attempts=[],
                # The failed run's; SQL NULL, as a new prediction has (None would be JSON null).
                manifest=null(),
                evaluation=null(),
                progress=0.0,
                deliveries=0,
                lease_token=None,
                lease_owner=None,
                lease_expires_at=None,
                started_at=None,
                finished_at=None,
                processing_time_ms=None,
                provider_time_ms=None,
                enqueued_at=now,
                updated_at=now,
            )
            .returning(col(Prediction.id))
        )
        return [row[0] for row in result.all()]

    async def finish_generation(self, generation_id: uuid.UUID, **values: Any) -> bool:
        """Give a generation that is not final yet its final state (takes its row lock)."""
        result = await self.session.execute(
            _finish_generation_statement(tuple(sorted(values))),
            _finish_generation_params(generation_id, values),
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def update_generation(self, generation_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(Generation).where(col(Generation.id) == generation_id).values(**values)
        )

    async def delete(self, generation_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(Prediction).where(col(Prediction.generation_id) == generation_id)
        )
        await self.session.execute(delete(Generation).where(col(Generation.id) == generation_id))

    async def select_prediction(self, prediction: Prediction) -> None:
        await self.session.execute(
            update(Prediction)
            .where(
                col(Prediction.generation_id) == prediction.generation_id,
                col(Prediction.id) != prediction.id,
            )
            .values(selected=False)
        )
        await self.session.execute(
            update(Prediction).where(col(Prediction.id) == prediction.id).values(selected=True)
        )

    # --- execution bookkeeping -----------------------------------------------------------

    async def mark_enqueued(self, prediction_ids: Sequence[uuid.UUID], now: datetime) -> None:
        if prediction_ids:
            await self.session.execute(
                update(Prediction)
                .where(col(Prediction.id).in_(prediction_ids))
                .values(enqueued_at=now)
            )

    async def claim(
        self,
        prediction_id: uuid.UUID,
        *,
        token: str,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim | None:
        """Take a pending prediction, or one whose runner's lease ran out; None if not ours.

        One conditional UPDATE whose condition the database re-checks under the prediction's
        row lock: of two racing claimers only one gets a row back. It locks nothing else, so
        it cannot deadlock with cancel, retry or recording, which lock the generation and
        then its predictions. The generation's PENDING -> PROCESSING is `start_generation`,
        a statement of its own.
        """
        params = _claim_params(prediction_id, token, owner, now, lease_until)
        claimed = (await self.session.execute(_claim_statement(), params)).first()
        if claimed is None:
            return None
        generation_id, seed, deliveries = claimed
        generation = await self.session.get(Generation, generation_id)
        return None if generation is None else Claim(generation, seed, deliveries)

    async def start_generation(self, generation_id: uuid.UUID, now: datetime) -> bool:
        """PENDING -> PROCESSING; True for the one caller that made the change."""
        result = await self.session.execute(
            _start_generation_statement(), {"s_id": generation_id, "s_now": now}
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def renew_lease(
        self, prediction_id: uuid.UUID, token: str, lease_until: datetime, progress: float
    ) -> bool:
        result = await self.session.execute(
            update(Prediction)
            .where(
                col(Prediction.id) == prediction_id,
                col(Prediction.lease_token) == token,
                col(Prediction.status) == PredictionStatus.GENERATING,
            )
            .values(lease_expires_at=lease_until, progress=progress)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release_leases(self, owner: str, now: datetime) -> int:
        """Shutting down: let other workers take over our running predictions at once."""
        result = await self.session.execute(
            update(Prediction)
            .where(
                col(Prediction.lease_owner) == owner,
                col(Prediction.status) == PredictionStatus.GENERATING,
            )
            .values(lease_expires_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def finish_prediction(
        self, prediction_id: uuid.UUID, token: str, values: dict[str, Any]
    ) -> bool:
        result = await self.session.execute(
            _finish_prediction_statement(tuple(sorted(values))),
            _finish_prediction_params(prediction_id, token, values),
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def fail_undeliverable(
        self, prediction_id: uuid.UUID, max_deliveries: int, now: datetime, message: str
    ) -> bool:
        result = await self.session.execute(
            update(Prediction)
            .where(
                col(Prediction.id) == prediction_id,
                col(Prediction.status).in_(ACTIVE_PREDICTION),
                col(Prediction.deliveries) >= max_deliveries,
                or_(
                    col(Prediction.status) == PredictionStatus.PENDING,
                    col(Prediction.lease_expires_at) < now,
                ),
            )
            .values(
                status=PredictionStatus.ERROR,
                error_message=message,
                error_category="internal",
                finished_at=now,
                lease_token=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def status_counts(self, generation_id: uuid.UUID) -> dict[str, int]:
        result = await self.session.execute(
            select(col(Prediction.status), func.count())
            .where(col(Prediction.generation_id) == generation_id)
            .group_by(col(Prediction.status))
        )
        return {str(status): int(count) for status, count in result.all()}

    async def first_error(self, generation_id: uuid.UUID) -> tuple[str | None, str | None]:
        row = (
            await self.session.execute(
                select(col(Prediction.error_message), col(Prediction.error_category))
                .where(
                    col(Prediction.generation_id) == generation_id,
                    col(Prediction.status) == PredictionStatus.ERROR,
                )
                .order_by(col(Prediction.position))
                .limit(1)
            )
        ).first()
        return (row[0], row[1]) if row is not None else (None, None)

    async def runnable_ids(
        self, *, now: datetime, pending_before: datetime | None, limit: int = 1000
    ) -> list[uuid.UUID]:
        """Work to (re-)enqueue: expired leases, and pending work enqueued before the cutoff."""
        expired = and_(
            col(Prediction.status) == PredictionStatus.GENERATING,
            col(Prediction.lease_expires_at) < now,
        )
        pending: ColumnElement[bool] = col(Prediction.status) == PredictionStatus.PENDING
        if pending_before is not None:
            pending = and_(
                pending,
                or_(
                    col(Prediction.enqueued_at).is_(None),
                    col(Prediction.enqueued_at) < pending_before,
                ),
            )
        result = await self.session.execute(
            select(col(Prediction.id))
            .where(or_(expired, pending))
            .order_by(col(Prediction.created_at))
            .limit(limit)
        )
        return [row[0] for row in result.all()]


class SessionExecutionRepository:
    """The statements every prediction runs (claim, start, record), each in a session of its
    own. `DriverExecutionRepository` is the same on PostgreSQL's driver pool."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self,
        prediction_id: uuid.UUID,
        *,
        token: str,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim | None:
        # Autocommit: the claim's statements are their own transactions (see `claim`).
        async with self.db.autocommit_sessionmaker() as session:
            return await GenerationRepository(session).claim(
                prediction_id, token=token, owner=owner, now=now, lease_until=lease_until
            )

    async def start_generation(
        self, generation_id: uuid.UUID, now: datetime, announce: Announce
    ) -> None:
        """See `DriverExecutionRepository.start_generation`."""
        async with self.db.sessionmaker() as session:
            if await GenerationRepository(session).start_generation(generation_id, now):
                await announce()
            await session.commit()

    async def finish_single(
        self,
        generation_id: uuid.UUID,
        generation_values: dict[str, Any],
        prediction_id: uuid.UUID,
        token: str,
        prediction_values: dict[str, Any],
    ) -> bool:
        """See `DriverExecutionRepository.finish_single`."""
        async with self.db.sessionmaker() as session:
            repo = GenerationRepository(session)
            if not await repo.finish_generation(
                generation_id, **generation_values
            ) or not await repo.finish_prediction(prediction_id, token, prediction_values):
                await session.rollback()
                return False
            await session.commit()
        return True


class DriverExecutionRepository:
    """The statements every prediction runs (claim, start, record), on PostgreSQL's driver
    pool: the same statements and semantics as `SessionExecutionRepository`'s, compiled once
    for asyncpg. Through the ORM session they cost ~1 ms of CPU per prediction each, here
    ~0.3 ms, and the claim brings the generation's row in the same round trip.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def claim(
        self,
        prediction_id: uuid.UUID,
        *,
        token: str,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim | None:
        """See `GenerationRepository.claim`; here the generation comes in the same trip."""
        claim = driver_statement(_claim_with_generation_statement())
        args = claim.args(_claim_params(prediction_id, token, owner, now, lease_until))
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(claim.sql, *args)
        return None if row is None else _claim_from_row(row)

    async def start_generation(
        self, generation_id: uuid.UUID, now: datetime, announce: Announce
    ) -> None:
        """PENDING -> PROCESSING, and `announce()` by the one caller that made the change,
        before its transaction commits: whoever else writes the generation meanwhile (a
        batch's other predictions starting, a cancel) waits on its row for that commit, so
        nothing of theirs is published before PROCESSING, in whatever process."""
        start = driver_statement(_start_generation_returning_statement())
        args = start.args({"s_id": generation_id, "s_now": now})
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(start.sql, *args) is not None:
                await announce()

    async def finish_single(
        self,
        generation_id: uuid.UUID,
        generation_values: dict[str, Any],
        prediction_id: uuid.UUID,
        token: str,
        prediction_values: dict[str, Any],
    ) -> bool:
        """A one-prediction generation's final state and its prediction's outcome, both or
        neither, in one statement (see `_finish_single_statement`)."""
        finish = driver_statement(
            _finish_single_statement(
                tuple(sorted(generation_values)), tuple(sorted(prediction_values))
            )
        )
        params = (
            _finish_prediction_params(prediction_id, token, prediction_values)
            | {f"g_{key}": value for key, value in generation_values.items()}
            | {"g_id": generation_id}
        )
        async with self.pool.acquire() as conn:
            return await conn.fetchval(finish.sql, *finish.args(params)) is not None


async def execution_repository(
    db: Database,
) -> DriverExecutionRepository | SessionExecutionRepository:
    """The driver-pool repository on PostgreSQL, the session one elsewhere."""
    pool = await db.driver_pool()
    return DriverExecutionRepository(pool) if pool is not None else SessionExecutionRepository(db)

"""Runs predictions: claim the row, run the steps, store the image, settle the generation.

One `GenerationRuntime` per process. The API process always has one to enqueue work (and, with
the in-memory broker, to run it); `python -m app.worker` processes run one that consumes the
Redis stream. Delivery is at-least-once; the row makes the effect exactly-once:

* a job claims its prediction with a compare-and-set, so a second delivery finds it taken;
* the claimer holds a lease it renews; a lease that runs out (worker killed) lets the sweeper
  enqueue the prediction again and the next claimer removes the dead attempt's file;
* the result is recorded only if the claimer still holds the lease; otherwise (cancelled,
  deleted, taken over) the file it wrote is removed, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from taskiq import AsyncBroker

from app.core.backoff import jittered_backoff
from app.core.config import Settings
from app.core.db import Database
from app.events.bus import EventBus, EventType
from app.models.generation import (
    TERMINAL_GENERATION_STATUSES,
    Generation,
    GenerationStatus,
    GenerationType,
    PredictionStatus,
)
from app.pipeline.agentic import run_agentic
from app.pipeline.broker import create_broker
from app.pipeline.events import GenerationEvents
from app.pipeline.manifest import failure_manifest, success_manifest
from app.pipeline.steps import Progress, StepFailed, StepsOutcome, prepare_inputs, run_plan
from app.providers.base import ErrorCategory
from app.providers.registry import ProviderRegistry
from app.repositories.generations import (
    GenerationRepository,
    GenerationState,
    execution_repository,
)
from app.storage.base import Storage

logger = logging.getLogger(__name__)

TASK_NAME = "generations.run_prediction"
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "video/mp4": "mp4"}
# A publish made while holding a generation's row lock (so that its events keep their order)
# is bounded: a stalled bus must not keep the row, a pooled connection or SQLite's write lock.
PUBLISH_UNDER_LOCK_SECONDS = 2.0
# A finished result is kept through a short outage of the storage or the database (~4-8 s
# of backoff in all): giving up would throw the image away and run the provider, a paid call,
# again once the lease ran out.
FINISH_ATTEMPTS = 5

T = TypeVar("T")


async def _publish_under_lock(what: str, publish: Awaitable[None]) -> None:
    try:
        async with asyncio.timeout(PUBLISH_UNDER_LOCK_SECONDS):
            await publish
    except TimeoutError:
        logger.warning(
            "%s took over %.0f s: dropped rather than hold the generation's lock",
            what,
            PUBLISH_UNDER_LOCK_SECONDS,
        )


async def _retrying(what: str, operation: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(FINISH_ATTEMPTS - 1):
        try:
            return await operation()
        except Exception:
            delay = jittered_backoff(attempt, 0.5, 4.0)
            logger.warning("%s failed; again in %.1f s", what, delay, exc_info=True)
            await asyncio.sleep(delay)
    return await operation()


def utcnow() -> datetime:
    return datetime.now(UTC)


def result_key(generation_id: uuid.UUID, prediction_id: uuid.UUID, token: str, mime: str) -> str:
    return f"{attempt_prefix(generation_id, prediction_id, token)}.{EXTENSIONS.get(mime, 'bin')}"


def attempt_prefix(generation_id: uuid.UUID, prediction_id: uuid.UUID, token: str) -> str:
    return f"{generation_prefix(generation_id)}{prediction_id}-{token}"


def generation_prefix(generation_id: uuid.UUID) -> str:
    return f"generations/{generation_id}/"


async def run_prediction_work(
    registry: ProviderRegistry,
    settings: Settings,
    generation: Generation,
    seed: int,
    on_progress: Progress,
) -> StepsOutcome:
    """The plan once (BASE), or the agentic quality loop around it (AGENTIC)."""
    images = await prepare_inputs(generation, settings)
    if generation.generation_type == GenerationType.AGENTIC:
        return await run_agentic(registry, settings, generation, seed, images, on_progress)
    return await run_plan(registry, settings, generation, seed, images, on_progress)


def final_values(
    status: GenerationStatus,
    now: datetime,
    started_at: datetime | None,
    error: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """The columns a generation gets when it reaches its final status."""
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "updated_at": now,
        "error_message": error[0],
        "error_category": error[1],
    }
    if status == GenerationStatus.CANCELLED:
        del values["error_message"], values["error_category"]
    if started_at is not None:
        values["processing_time_ms"] = int((now - started_at).total_seconds() * 1000)
    return values


async def settle_generation(
    repo: GenerationRepository, generation_id: uuid.UUID, now: datetime, state: GenerationState
) -> GenerationStatus | None:
    """Once no prediction is active, give the generation its final status.

    Call under the generation's lock, with the state that lock returned.
    """
    if state.status in TERMINAL_GENERATION_STATUSES:
        return None
    counts = await repo.status_counts(generation_id)
    if counts.get(PredictionStatus.PENDING, 0) or counts.get(PredictionStatus.GENERATING, 0):
        return None
    error: tuple[str | None, str | None] = (None, None)
    if counts.get(PredictionStatus.COMPLETED, 0):
        status = GenerationStatus.COMPLETED
    elif counts.get(PredictionStatus.ERROR, 0):
        status = GenerationStatus.FAILED
        error = await repo.first_error(generation_id)
    else:
        status = GenerationStatus.CANCELLED
    await repo.update_generation(
        generation_id, **final_values(status, now, state.started_at, error)
    )
    return status


class GenerationRuntime:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: Storage,
        bus: EventBus,
        registry: ProviderRegistry,
        *,
        executes: bool,
        broker: AsyncBroker | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.storage = storage
        self.events = GenerationEvents(bus)
        self.registry = registry
        # Whether this process runs jobs (worker, or API with the in-memory broker).
        self.executes = executes
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.broker = broker or create_broker(settings)

        async def run_prediction(prediction_id: str) -> None:
            async with self._slots:
                await self.execute(uuid.UUID(prediction_id))

        # A plain function (Taskiq renames what it registers, which a bound method refuses).
        self.broker.register_task(run_prediction, task_name=TASK_NAME)
        self._slots = asyncio.Semaphore(settings.WORKER_CONCURRENCY)
        self._work: dict[uuid.UUID, asyncio.Task[StepsOutcome]] = {}
        self._progress: dict[uuid.UUID, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False

    @property
    def in_memory(self) -> bool:
        return not self.settings.REDIS_URL

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.startup()
        self._started = True
        if self.executes:
            # In memory, nothing else will run what was pending when the process stopped.
            await self.recover(include_all_pending=self.in_memory)
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="generation-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for work in list(self._work.values()):
            work.cancel()
        if self._work:
            await asyncio.gather(*self._work.values(), return_exceptions=True)
        if self.executes:
            with contextlib.suppress(Exception):
                async with self.db.sessionmaker() as session:
                    await GenerationRepository(session).release_leases(self.worker_id, utcnow())
                    await session.commit()
        if self._started:
            await self.broker.shutdown()
            self._started = False

    # --- queueing ------------------------------------------------------------------------

    async def enqueue(self, prediction_ids: list[uuid.UUID]) -> None:
        """Send one message per prediction. The caller has set their `enqueued_at` in the
        transaction that made them pending (creation, retry), or `recover` does."""
        if not prediction_ids:
            return
        task = self.broker.find_task(TASK_NAME)
        assert task is not None
        for prediction_id in prediction_ids:
            await task.kiq(str(prediction_id))

    async def recover(self, *, include_all_pending: bool) -> int:
        now = utcnow()
        cutoff = (
            None
            if include_all_pending
            else now - timedelta(seconds=self.settings.GENERATION_PENDING_REQUEUE_SECONDS)
        )
        async with self.db.read_sessionmaker() as session:
            ids = await GenerationRepository(session).runnable_ids(now=now, pending_before=cutoff)
        if ids:
            logger.info("re-enqueueing %d predictions", len(ids))
            async with self.db.sessionmaker() as session:
                await GenerationRepository(session).mark_enqueued(ids, now)
                await session.commit()
            await self.enqueue(ids)
        return len(ids)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.GENERATION_SWEEP_SECONDS)
            try:
                await self.recover(include_all_pending=False)
            except Exception:
                logger.exception("generation sweep failed")

    def stop_local(self, prediction_ids: list[uuid.UUID]) -> None:
        """Cancelled or deleted through this process: stop the work now, not at the next beat."""
        for prediction_id in prediction_ids:
            work = self._work.get(prediction_id)
            if work is not None:
                work.cancel()

    # --- execution -----------------------------------------------------------------------

    async def execute(self, prediction_id: uuid.UUID) -> None:
        now = utcnow()
        token = uuid.uuid4().hex
        lease = timedelta(seconds=self.settings.GENERATION_LEASE_SECONDS)
        claim = await (await execution_repository(self.db)).claim(
            prediction_id, token=token, owner=self.worker_id, now=now, lease_until=now + lease
        )
        if claim is None:
            return
        generation = claim.generation
        generation_id = generation.id
        if claim.deliveries > 1:
            # Taken over from a worker that died holding it: whatever it stored is garbage.
            # (No attempt of a claimable prediction has a recorded result.)
            await self.storage.delete_prefix(attempt_prefix(generation_id, prediction_id, ""))
        # What the start statement writes on a generation's first claim (coalesce).
        generation.started_at = generation.started_at or now
        if claim.deliveries > self.settings.GENERATION_MAX_DELIVERIES:
            await self._start_generation(generation, now)
            await self._finish_error(
                generation,
                prediction_id,
                token,
                started=now,
                message=f"Gave up after {claim.deliveries - 1} interrupted deliveries",
                category="internal",
                attempts=[],
                seed=claim.seed,
            )
            return

        async def on_progress(fraction: float, message: str | None) -> None:
            await announced
            previous = self._progress.get(prediction_id, 0.0)
            self._progress[prediction_id] = fraction
            if fraction - previous >= 0.05 or fraction >= 1.0:
                await self.events.prediction(
                    EventType.PREDICTION_PROGRESS,
                    generation_id=generation_id,
                    prediction_id=prediction_id,
                    owner_id=generation.owner_id,
                    organization_id=generation.organization_id,
                    data={"progress": round(fraction, 4), "message": message},
                )

        work = asyncio.create_task(
            run_prediction_work(self.registry, self.settings, generation, claim.seed, on_progress)
        )
        # PENDING -> PROCESSING and its event happen while the work starts rather than
        # before: created after the work's task, it runs when the work first waits (on the
        # provider, at the latest), and the work waits for neither. Every later event of
        # this prediction and the recording wait for it.
        announced = asyncio.ensure_future(self._start_generation(generation, now))
        self._work[prediction_id] = work
        heartbeat = asyncio.create_task(self._heartbeat(prediction_id, token, work))
        try:
            try:
                try:
                    outcome = await work
                finally:
                    # Whatever the outcome, it is published after PROCESSING.
                    await announced
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    work.cancel()
                    raise
                # Stopped because the row says so (cancelled, deleted or taken over).
                return
            except StepFailed as failure:
                await self._finish_error(
                    generation,
                    prediction_id,
                    token,
                    started=now,
                    message=failure.message,
                    category=failure.category,
                    attempts=failure.attempts,
                    seed=claim.seed,
                    evaluation=failure.evaluation,
                )
                return
            except Exception as exc:
                logger.exception("prediction %s failed unexpectedly", prediction_id)
                await self._finish_error(
                    generation,
                    prediction_id,
                    token,
                    started=now,
                    message=f"Internal error: {type(exc).__name__}",
                    category="internal",
                    attempts=[],
                    seed=claim.seed,
                )
                return
            await self._finish_success(generation, prediction_id, token, now, outcome, claim.seed)
        finally:
            heartbeat.cancel()
            self._work.pop(prediction_id, None)
            self._progress.pop(prediction_id, None)

    async def _start_generation(self, generation: Generation, now: datetime) -> None:
        if generation.status != GenerationStatus.PENDING:
            return  # started by an earlier claim

        async def announce() -> None:
            generation.status = GenerationStatus.PROCESSING
            await _publish_under_lock(
                f"announcing generation {generation.id} PROCESSING",
                self.events.status(generation, GenerationStatus.PROCESSING),
            )

        try:
            # Of concurrent first claims of a batch, one makes the change and says so, and
            # the others, like a cancel, wait until it has (see `start_generation`).
            await (await execution_repository(self.db)).start_generation(
                generation.id, now, announce
            )
        except Exception:
            # The work goes on; recording its outcome gives the generation its final status.
            logger.exception("marking generation %s PROCESSING failed", generation.id)

    async def _heartbeat(
        self, prediction_id: uuid.UUID, token: str, work: asyncio.Task[StepsOutcome]
    ) -> None:
        interval = min(
            self.settings.GENERATION_HEARTBEAT_SECONDS, self.settings.GENERATION_LEASE_SECONDS / 3
        )
        lease = timedelta(seconds=self.settings.GENERATION_LEASE_SECONDS)
        while not work.done():
            await asyncio.sleep(interval)
            try:
                async with self.db.sessionmaker() as session:
                    held = await GenerationRepository(session).renew_lease(
                        prediction_id,
                        token,
                        utcnow() + lease,
                        self._progress.get(prediction_id, 0.0),
                    )
                    await session.commit()
            except Exception:
                logger.exception("lease renewal of prediction %s failed", prediction_id)
                continue
            if not held:
                work.cancel()
                return

    async def _finish_success(
        self,
        generation: Generation,
        prediction_id: uuid.UUID,
        token: str,
        started: datetime,
        outcome: StepsOutcome,
        seed: int,
    ) -> None:
        image = outcome.image
        key = result_key(generation.id, prediction_id, token, image.mime_type)
        try:
            stored = await _retrying(
                f"storing the result of prediction {prediction_id}",
                lambda: self.storage.put(key, image.data, image.mime_type),
            )
        except Exception as exc:
            # Said on the prediction, rather than redelivered (and paid for) until given up.
            logger.exception("storing the result of prediction %s failed", prediction_id)
            await self._finish_error(
                generation,
                prediction_id,
                token,
                started=started,
                message=f"Storing the result failed: {type(exc).__name__}",
                category=ErrorCategory.STORAGE,
                attempts=outcome.attempts,
                seed=seed,
                evaluation=outcome.evaluation,
                provider=outcome.provider,
            )
            return
        now = utcnow()
        values = {
            "status": PredictionStatus.COMPLETED,
            "progress": 1.0,
            "result_image_key": stored.key,
            "result_mime_type": image.mime_type,
            "result_width": image.width,
            "result_height": image.height,
            "result_size_bytes": stored.size,
            "result_sha256": stored.sha256,
            "provider": outcome.provider,
            "fallback_used": outcome.fallback_used,
            "fallback_reason": outcome.fallback_reason,
            "attempts": outcome.attempts,
            "error_message": None,
            "error_category": None,
            "finished_at": now,
            "processing_time_ms": int((now - started).total_seconds() * 1000),
            "provider_time_ms": outcome.provider_time_ms,
            "evaluation": outcome.evaluation,
            "manifest": success_manifest(generation, outcome, stored.sha256),
            "updated_at": now,
        }
        recorded = await self._record(
            generation, prediction_id, token, values, EventType.PREDICTION_COMPLETED
        )
        if not recorded:
            await self.storage.delete(stored.key)

    async def _finish_error(
        self,
        generation: Generation,
        prediction_id: uuid.UUID,
        token: str,
        *,
        started: datetime,
        message: str,
        category: str,
        attempts: list[dict[str, Any]],
        seed: int,
        evaluation: dict[str, Any] | None = None,
        provider: str | None = None,
    ) -> None:
        """`provider`: the one that served, when what failed came after it."""
        now = utcnow()
        served = [a for a in attempts if a.get("outcome") == "error"]
        values = {
            "status": PredictionStatus.ERROR,
            "error_message": message,
            "error_category": category,
            "attempts": attempts,
            "provider": provider or (served[-1]["provider"] if served else None),
            "manifest": failure_manifest(generation, seed),
            "evaluation": evaluation,
            "finished_at": now,
            "processing_time_ms": int((now - started).total_seconds() * 1000),
            "updated_at": now,
        }
        await self._record(generation, prediction_id, token, values, EventType.PREDICTION_FAILED)

    async def _record(
        self,
        generation: Generation,
        prediction_id: uuid.UUID,
        token: str,
        values: dict[str, Any],
        event_type: EventType,
    ) -> bool:
        now = utcnow()
        published: list[GenerationStatus | None] = []

        async def publish(final: GenerationStatus | None) -> None:
            if not published:
                await self.events.prediction_finished(
                    generation,
                    event_type,
                    prediction_id,
                    {
                        "status": str(values["status"]),
                        "error_message": values.get("error_message"),
                        "error_category": values.get("error_category"),
                    },
                    final,
                )
            elif final is not None and published[0] is None:
                # A try published the result and then failed to commit; this one settled it.
                await self.events.status(generation, final)
            else:
                return
            published[:] = [final]

        failed = False

        async def record() -> bool:
            nonlocal failed
            # A try that failed may have committed before its connection went.
            if failed and await self._landed(generation.id, prediction_id, values, now, publish):
                return True
            try:
                if await self._write_outcome(
                    generation, prediction_id, token, values, now, publish
                ):
                    return True
            except Exception:
                failed = True
                raise
            # Refused: the prediction is not ours any more, or a failed try's commit has become
            # visible only now.
            return failed and await self._landed(generation.id, prediction_id, values, now, publish)

        return await _retrying(f"recording prediction {prediction_id}", record)

    async def _write_outcome(
        self,
        generation: Generation,
        prediction_id: uuid.UUID,
        token: str,
        values: dict[str, Any],
        now: datetime,
        publish: Callable[[GenerationStatus | None], Awaitable[None]],
    ) -> bool:
        """Record the outcome if `token` still holds the prediction, and `publish` it with the
        final status it gave the generation, if it was the last one."""
        if generation.batch_size == 1:
            # Its only prediction's outcome is the generation's: writing the final state takes
            # the generation's lock first (same order as cancel/retry), and a failed
            # compare-and-set on the prediction rolls both back.
            status = (
                GenerationStatus.COMPLETED
                if values["status"] == PredictionStatus.COMPLETED
                else GenerationStatus.FAILED
            )
            error = (values.get("error_message"), values.get("error_category"))
            finished = final_values(status, now, generation.started_at, error)
            execution = await execution_repository(self.db)
            if not await execution.finish_single(
                generation.id, finished, prediction_id, token, values
            ):
                return False
            await publish(status)
            return True
        async with self.db.sessionmaker() as session:
            repo = GenerationRepository(session)
            # Lock the generation first: concurrent finishers of one generation settle it
            # one after another, so exactly one sees it finish.
            state = await repo.lock_generation_state(generation.id, now)
            if state is None or not await repo.finish_prediction(prediction_id, token, values):
                await session.rollback()
                return False
            final = await settle_generation(repo, generation.id, now, state)
            # Published before the commit, under the generation's lock: the finisher that
            # settles it waits for the lock, so its final event comes after every other
            # prediction's (published after the commit, one could come after the final one).
            await _publish_under_lock(f"publishing prediction {prediction_id}", publish(final))
            await session.commit()
        return True

    async def _landed(
        self,
        generation_id: uuid.UUID,
        prediction_id: uuid.UUID,
        values: dict[str, Any],
        now: datetime,
        publish: Callable[[GenerationStatus | None], Awaitable[None]],
    ) -> bool:
        """Whether a try whose reply was lost committed, and if so `publish` what it wrote
        (with the final status it gave the generation, if any). Its timestamps tell: nothing
        else writes them."""
        async with self.db.read_sessionmaker() as session:
            repo = GenerationRepository(session)
            prediction = await repo.get_prediction(prediction_id)
            generation = await repo.get(generation_id)
        if prediction is None or prediction.finished_at != values["finished_at"]:
            return False
        final = None
        if generation is not None and generation.finished_at == now:  # it settled it
            final = GenerationStatus(generation.status)
        await publish(final)
        return True

"""`python -m app.worker`: run generation jobs from the Redis stream (any number of machines).

Each worker applies migrations if asked (AUTO_MIGRATE, serialised by an advisory lock),
registers the providers, re-enqueues work left behind, and consumes up to
WORKER_CONCURRENCY jobs at a time. SIGTERM/SIGINT stop it gracefully: it takes no new job,
lets running ones finish for WORKER_SHUTDOWN_GRACE_SECONDS, then interrupts the rest and
releases their leases so other workers take them over at once. A second signal interrupts
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

from taskiq.receiver import Receiver

from app.core.bootstrap import migrate
from app.core.config import Settings
from app.core.config import settings as default_settings
from app.core.db import Database
from app.core.heap import freeze_startup_objects
from app.core.http import close_http_client
from app.core.logs import configure_logging
from app.events.factory import create_event_bus
from app.pipeline.runtime import GenerationRuntime
from app.providers.builtin import register_builtin_providers
from app.providers.registry import registry
from app.storage import create_storage

logger = logging.getLogger("app.worker")


async def run_worker(settings: Settings) -> None:
    if not settings.REDIS_URL:
        raise SystemExit("REDIS_URL is not set: without it the API process runs jobs itself")
    if settings.AUTO_MIGRATE:
        await migrate(settings)
    db = Database(settings)
    storage = create_storage(settings)
    bus = create_event_bus(settings)
    register_builtin_providers(registry, settings.PROVIDER_PLUGINS, settings)
    await storage.start()
    runtime = GenerationRuntime(settings, db, storage, bus, registry, executes=True)
    await runtime.start()
    signals = 0
    draining = asyncio.Event()
    listening = asyncio.create_task(_listen(runtime, settings, draining))

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            logger.info("stopping: finishing running jobs, taking no new ones")
            draining.set()
        else:
            listening.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    freeze_startup_objects()
    logger.info(
        "worker %s consuming %s (concurrency %d)",
        runtime.worker_id,
        settings.TASK_QUEUE_NAME,
        settings.WORKER_CONCURRENCY,
    )
    print(f"worker ready {runtime.worker_id}", file=sys.stderr, flush=True)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    finally:
        await runtime.stop()
        await storage.close()
        await bus.close()
        await close_http_client()
        await db.dispose()


async def _listen(runtime: GenerationRuntime, settings: Settings, draining: asyncio.Event) -> None:
    """Consume jobs until `draining` is set, then wait up to the grace period for running
    ones. taskiq's `run_receiver_task` can only be cancelled, which interrupts running jobs."""
    runtime.broker.is_worker_process = True
    # Jobs are coroutines; the executor only satisfies the receiver's signature.
    with ThreadPoolExecutor(max_workers=1) as executor:
        while not draining.is_set():
            receiver = Receiver(
                runtime.broker,
                executor=executor,
                max_async_tasks=settings.WORKER_CONCURRENCY,
                max_prefetch=0,
                propagate_exceptions=False,
                run_startup=False,
                wait_tasks_timeout=settings.WORKER_SHUTDOWN_GRACE_SECONDS,
            )
            try:
                await receiver.listen(draining)
            except Exception:
                # As taskiq's own loop does: a broken read starts a fresh receiver.
                logger.exception("listening to the job stream failed; listening again")
                await asyncio.sleep(1)


def main() -> None:
    configure_logging()
    # The event loop the API runs on too (uvicorn picks uvloop): the stdlib loop's own
    # per-callback cost showed up in every claim and record of a prediction.
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard] on POSIX
        asyncio.run(run_worker(default_settings))
    else:
        uvloop.run(run_worker(default_settings))


if __name__ == "__main__":
    main()

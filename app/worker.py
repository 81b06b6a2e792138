"""`python -m app.worker`: run generation jobs from the Redis stream (any number of machines).

Each worker applies migrations if asked (AUTO_MIGRATE, serialised by an advisory lock),
registers the providers, re-enqueues work left behind, and consumes up to
WORKER_CONCURRENCY jobs at a time. SIGTERM/SIGINT stop it gracefully: running work is
interrupted and its leases released, so other workers take it over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from taskiq.api import run_receiver_task

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
    receiver = asyncio.create_task(
        run_receiver_task(
            runtime.broker,
            max_async_tasks=settings.WORKER_CONCURRENCY,
            max_prefetch=0,
            propagate_exceptions=False,
        )
    )
    freeze_startup_objects()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logger.info(
        "worker %s consuming %s (concurrency %d)",
        runtime.worker_id,
        settings.TASK_QUEUE_NAME,
        settings.WORKER_CONCURRENCY,
    )
    print(f"worker ready {runtime.worker_id}", file=sys.stderr, flush=True)
    try:
        await asyncio.wait(
            [receiver, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver
        await runtime.stop()
        await storage.close()
        await bus.close()
        await close_http_client()
        await db.dispose()


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

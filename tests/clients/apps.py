"""Extra app instances over the suite's database, with their own settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import make_settings


@asynccontextmanager
async def app_instance(
    database_url: str, customize: Callable[[FastAPI], None] | None = None, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    overrides.setdefault("WEBHOOK_DISPATCHER_ENABLED", False)
    settings = make_settings(database_url, AUTO_MIGRATE=False, SEED_DEFAULTS=False, **overrides)
    application = create_app(settings)
    if customize is not None:
        customize(application)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield application, client


@asynccontextmanager
async def app_client(
    database_url: str, customize: Callable[[FastAPI], None] | None = None, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_instance(database_url, customize, **overrides) as (_app, client):
        yield client


# A dispatcher that retries fast and may reach the loopback receiver.
FAST_WEBHOOKS: dict[str, Any] = {
    "WEBHOOK_DISPATCHER_ENABLED": True,
    "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
    "WEBHOOK_POLL_SECONDS": 0.05,
    "WEBHOOK_RETRY_BASE_SECONDS": 0.05,
    "WEBHOOK_RETRY_MAX_DELAY_SECONDS": 0.2,
    "WEBHOOK_TIMEOUT_SECONDS": 5,
}

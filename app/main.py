"""The ASGI application: `create_app()` builds it from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app.api.idempotency import install_idempotency
from app.api.main import api_router
from app.api.rate_limit import RateLimitHeadersMiddleware
from app.core.bootstrap import bootstrap
from app.core.config import Settings
from app.core.config import settings as default_settings
from app.core.db import Database
from app.core.errors import install_error_handlers
from app.core.openapi import install_openapi
from app.core.rate_limit import RateLimiter
from app.events.factory import create_event_bus
from app.services.webhook_dispatcher import WebhookDispatcher


def custom_generate_unique_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or default_settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bootstrap(settings, app.state.db)
        if settings.WEBHOOK_DISPATCHER_ENABLED:
            app.state.webhook_dispatcher.start(app.state.event_bus)
        try:
            yield
        finally:
            await app.state.webhook_dispatcher.stop()
            await app.state.event_bus.close()
            await app.state.db.dispose()

    app = FastAPI(
        title=settings.PROJECT_NAME,
        version="0.1.0",
        openapi_url=f"{settings.API_V1_STR}/openapi.json",
        generate_unique_id_function=custom_generate_unique_id,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.rate_limiter = RateLimiter(settings)
    app.state.event_bus = create_event_bus(settings)
    app.state.webhook_dispatcher = WebhookDispatcher(app.state.db, settings)

    if settings.all_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.all_cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RateLimitHeadersMiddleware)
    install_idempotency(app, app.state.db)
    install_error_handlers(app)
    app.include_router(api_router, prefix=settings.API_V1_STR)
    install_openapi(app)
    return app


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

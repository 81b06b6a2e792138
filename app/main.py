"""The ASGI application: `create_app()` builds it from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app.api.idempotency import install_idempotency
from app.api.main import API_ROUTERS
from app.api.rate_limit import RateLimitHeadersMiddleware
from app.api.routing import include_routers
from app.core.bootstrap import bootstrap
from app.core.config import Settings
from app.core.config import settings as default_settings
from app.core.db import Database
from app.core.errors import install_error_handlers
from app.core.heap import freeze_startup_objects
from app.core.http import close_http_client
from app.core.logs import configure_logging
from app.core.openapi import install_openapi
from app.core.rate_limit import RateLimiter
from app.events.factory import create_event_bus
from app.pipeline.runtime import GenerationRuntime
from app.providers.builtin import register_builtin_providers
from app.providers.registry import registry
from app.services.webhook_dispatcher import WebhookDispatcher
from app.storage import create_storage


def custom_generate_unique_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or default_settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bootstrap(settings, app.state.db)
        register_builtin_providers(app.state.provider_registry, settings.PROVIDER_PLUGINS, settings)
        await app.state.storage.start()
        runtime: GenerationRuntime = app.state.generation_runtime
        await runtime.start()
        if settings.WEBHOOK_DISPATCHER_ENABLED:
            app.state.webhook_dispatcher.start(app.state.event_bus)
        freeze_startup_objects()
        try:
            yield
        finally:
            await app.state.webhook_dispatcher.stop()
            await runtime.stop()
            await app.state.storage.close()
            await app.state.event_bus.close()
            await close_http_client()
            await app.state.db.dispose()

    app = FastAPI(
        title=settings.PROJECT_NAME,
        version="0.1.0",
        openapi_url=f"{settings.API_V1_STR}/openapi.json",
        # One schema per model for input and output, named as in the contract.
        separate_input_output_schemas=False,
        generate_unique_id_function=custom_generate_unique_id,
        lifespan=lifespan,
        max_body_size=settings.MAX_REQUEST_BYTES,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.rate_limiter = RateLimiter(settings)
    app.state.event_bus = create_event_bus(settings)
    app.state.storage = create_storage(settings)
    app.state.provider_registry = registry
    # With the in-memory broker the API process runs the jobs itself; with Redis, workers do.
    app.state.generation_runtime = GenerationRuntime(
        settings,
        app.state.db,
        app.state.storage,
        app.state.event_bus,
        registry,
        executes=not settings.REDIS_URL,
    )
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
    include_routers(app, settings.API_V1_STR, API_ROUTERS)
    install_openapi(app)
    return app


configure_logging()

"""Registration of the clients for external (paid, keyed) image providers.

A provider is registered only when its credentials are configured, so the planner never
routes a step to a model that cannot work; the seeded beta models come alive once their key
is set (and the process restarted).
"""

from __future__ import annotations

from typing import Any

from app.core.config import Settings
from app.core.config import settings as default_settings
from app.providers.base import ImageProvider
from app.providers.enums import ProviderType
from app.providers.fal import FalShootifyRefinerProvider, FalStandardProvider
from app.providers.freepik import FreepikMagnificPrecisionProvider, FreepikMagnificProvider
from app.providers.nano_banana import NanoBananaUpscaler
from app.providers.registry import ProviderRegistry
from app.providers.vertex import VertexProvider

EXTERNAL_PROVIDERS: tuple[type[ImageProvider[Any]], ...] = (
    FalStandardProvider,
    FalShootifyRefinerProvider,
    VertexProvider,
    FreepikMagnificProvider,
    FreepikMagnificPrecisionProvider,
    NanoBananaUpscaler,
)


def is_configured(provider_type: ProviderType, settings: Settings) -> bool:
    if provider_type in (ProviderType.FAL_STANDARD, ProviderType.FAL_SHOOTIFY_REFINER):
        return bool(settings.FAL_KEY)
    if provider_type in (
        ProviderType.FREEPIK_MAGNIFIC,
        ProviderType.FREEPIK_MAGNIFIC_PRECISION,
    ):
        return bool(settings.FREEPIK_API_KEY)
    if provider_type in (ProviderType.VERTEX, ProviderType.NANO_BANANA_UPSCALER):
        return bool(settings.GEMINI_API_KEY or settings.VERTEX_PROJECT)
    return False


def register_external_providers(
    registry: ProviderRegistry, settings: Settings | None = None
) -> list[ProviderType]:
    """Register the external clients whose credentials `settings` (default: the process
    settings) holds, bound to its base URLs and timeouts; returns the registered types."""
    settings = settings or default_settings
    registered: list[ProviderType] = []
    for cls in EXTERNAL_PROVIDERS:
        if not is_configured(cls.provider_type, settings):
            registry.unregister(cls.provider_type)
            continue

        def factory(config: Any, cls: Any = cls) -> ImageProvider[Any]:
            return cls(config, settings)  # type: ignore[no-any-return]

        registry.register(cls.provider_type, factory, cls.capabilities)
        registered.append(cls.provider_type)
    return registered

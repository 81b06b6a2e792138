"""Registration of the clients for external (paid, keyed) image providers."""

from __future__ import annotations

from typing import Any

from app.core.config import Settings
from app.providers.base import ImageProvider
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


def register_external_providers(
    registry: ProviderRegistry, settings: Settings | None = None
) -> None:
    """Register every external client; `settings` (default: the process settings) supplies
    base URLs, credentials and timeouts. Missing credentials only fail when a model is used."""
    for cls in EXTERNAL_PROVIDERS:

        def factory(config: Any, cls: Any = cls) -> ImageProvider[Any]:
            return cls(config, settings)  # type: ignore[no-any-return]

        registry.register(cls.provider_type, factory, cls.capabilities)

"""`ProviderType` -> implementation. Providers register themselves here; the pipeline asks
the registry for a ready instance built from a generation model's stored config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from app.providers.base import ImageProvider
from app.providers.configs import parse_provider_config
from app.providers.enums import ProviderCapability, ProviderType

ProviderFactory = Callable[[Any], ImageProvider[Any]]


class UnknownProvider(LookupError):
    pass


class ProviderRegistry:
    def __init__(self) -> None:
        self._factories: dict[ProviderType, type[ImageProvider[Any]] | ProviderFactory] = {}
        self._capabilities: dict[ProviderType, frozenset[ProviderCapability]] = {}

    def register(
        self,
        provider_type: ProviderType,
        factory: type[ImageProvider[Any]] | ProviderFactory,
        capabilities: frozenset[ProviderCapability] | None = None,
    ) -> None:
        self._factories[provider_type] = factory
        declared = (
            capabilities if capabilities is not None else getattr(factory, "capabilities", None)
        )
        self._capabilities[provider_type] = frozenset(declared or ())

    def unregister(self, provider_type: ProviderType) -> None:
        self._factories.pop(provider_type, None)
        self._capabilities.pop(provider_type, None)

    def is_registered(self, provider_type: ProviderType) -> bool:
        return provider_type in self._factories

    def capabilities(self, provider_type: ProviderType) -> frozenset[ProviderCapability]:
        return self._capabilities.get(provider_type, frozenset())

    def create(self, provider_type: ProviderType, raw_config: Any) -> ImageProvider[Any]:
        factory = self._factories.get(provider_type)
        if factory is None:
            raise UnknownProvider(f"no provider implementation for {provider_type.value!r}")
        config: BaseModel = parse_provider_config(provider_type, raw_config)
        return factory(config)


# The process-wide registry; provider modules add themselves via `register_builtin_providers`.
registry = ProviderRegistry()

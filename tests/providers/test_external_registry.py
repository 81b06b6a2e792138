"""The external providers are reachable through the registry, built from stored configs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.providers.enums import ProviderCapability, ProviderType
from app.providers.external import register_external_providers
from app.providers.fal import FalStandardProvider
from app.providers.registry import ProviderRegistry
from tests.providers.conftest import SettingsFactory


def test_every_external_provider_is_registered(provider_settings: SettingsFactory) -> None:
    registry = ProviderRegistry()
    settings = provider_settings(FAL_KEY="k")
    register_external_providers(registry, settings)
    for provider_type in (
        ProviderType.FAL_STANDARD,
        ProviderType.FAL_SHOOTIFY_REFINER,
        ProviderType.VERTEX,
        ProviderType.FREEPIK_MAGNIFIC,
        ProviderType.FREEPIK_MAGNIFIC_PRECISION,
        ProviderType.NANO_BANANA_UPSCALER,
    ):
        assert registry.is_registered(provider_type)
    assert ProviderCapability.UPSCALE in registry.capabilities(ProviderType.FREEPIK_MAGNIFIC)
    provider = registry.create(
        ProviderType.FAL_STANDARD,
        {"fal_app_id": "fal-ai/flux-lora", "additional_static_params": {"a": 1}},
    )
    assert isinstance(provider, FalStandardProvider)
    assert provider.settings is settings
    assert provider.config.fal_app_id == "fal-ai/flux-lora"
    with pytest.raises(ValidationError):
        registry.create(ProviderType.FREEPIK_MAGNIFIC, {"creativity": 11})


def test_seeded_external_models_match_their_clients(provider_settings: SettingsFactory) -> None:
    from app.providers.defaults import default_generation_models

    registry = ProviderRegistry()
    register_external_providers(registry, provider_settings())
    seeded = {model.provider: model for model in default_generation_models()}
    for provider_type in (
        ProviderType.FAL_STANDARD,
        ProviderType.FAL_SHOOTIFY_REFINER,
        ProviderType.VERTEX,
        ProviderType.FREEPIK_MAGNIFIC,
        ProviderType.FREEPIK_MAGNIFIC_PRECISION,
        ProviderType.NANO_BANANA_UPSCALER,
    ):
        model = seeded[provider_type]
        assert model.beta and not model.recommended
        assert set(model.provider_capabilities or []) == set(registry.capabilities(provider_type))
        registry.create(provider_type, model.provider_config)  # the stored config is valid

"""External providers reach the registry only with credentials, built from stored configs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.providers.builtin import register_builtin_providers
from app.providers.defaults import default_generation_models
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.external import register_external_providers
from app.providers.fal import FalStandardProvider
from app.providers.registry import ProviderRegistry
from tests.providers.conftest import SettingsFactory

EXTERNAL = (
    ProviderType.FAL_STANDARD,
    ProviderType.FAL_SHOOTIFY_REFINER,
    ProviderType.VERTEX,
    ProviderType.FREEPIK_MAGNIFIC,
    ProviderType.FREEPIK_MAGNIFIC_PRECISION,
    ProviderType.NANO_BANANA_UPSCALER,
)
ALL_KEYS = {"FAL_KEY": "k", "FREEPIK_API_KEY": "k", "GEMINI_API_KEY": "k"}


def test_every_external_provider_is_registered_with_keys(
    provider_settings: SettingsFactory,
) -> None:
    registry = ProviderRegistry()
    settings = provider_settings(**ALL_KEYS)
    assert set(register_external_providers(registry, settings)) == set(EXTERNAL)
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


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({}, set()),
        ({"FAL_KEY": "k"}, {ProviderType.FAL_STANDARD, ProviderType.FAL_SHOOTIFY_REFINER}),
        (
            {"FREEPIK_API_KEY": "k"},
            {ProviderType.FREEPIK_MAGNIFIC, ProviderType.FREEPIK_MAGNIFIC_PRECISION},
        ),
        ({"GEMINI_API_KEY": "k"}, {ProviderType.VERTEX, ProviderType.NANO_BANANA_UPSCALER}),
        ({"VERTEX_PROJECT": "p"}, {ProviderType.VERTEX, ProviderType.NANO_BANANA_UPSCALER}),
    ],
)
def test_only_configured_providers_are_registered(
    provider_settings: SettingsFactory, keys: dict[str, str], expected: set[ProviderType]
) -> None:
    registry = ProviderRegistry()
    register_builtin_providers(registry, (), provider_settings(**keys))
    assert registry.is_registered(ProviderType.LOCAL)
    assert {t for t in EXTERNAL if registry.is_registered(t)} == expected


def test_seeded_external_models_match_their_clients(provider_settings: SettingsFactory) -> None:
    registry = ProviderRegistry()
    register_external_providers(registry, provider_settings(**ALL_KEYS))
    seeded = {model.provider: model for model in default_generation_models()}
    for provider_type in EXTERNAL:
        model = seeded[provider_type]
        assert model.beta and not model.recommended
        assert set(model.provider_capabilities or []) == set(registry.capabilities(provider_type))
        registry.create(provider_type, model.provider_config)  # the stored config is valid

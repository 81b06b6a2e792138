"""One beta, non-recommended model per external provider is seeded and served by the API."""

from __future__ import annotations

import httpx


async def test_seeded_external_models_are_listed(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/generation-models/", params={"limit": 100})
    assert r.status_code == 200, r.text
    # Other tests add models of the same providers: the seeded ones name their credentials.
    by_provider = {m["provider"]: m for m in r.json()["data"] if "(needs " in m["name"]}
    for provider, config_key in (
        ("fal_standard", "fal_app_id"),
        ("fal_shootify_refiner", "fal_app_id"),
        ("vertex", "model"),
        ("freepik_magnific", "engine"),
        ("freepik_magnific_precision", "sharpen"),
        ("nano_banana_upscaler", "ssim_threshold"),
    ):
        model = by_provider[provider]
        assert model["beta"] is True and model["recommended"] is False
        assert model["provider_config"]["provider_type"] == provider
        assert config_key in model["provider_config"]
    assert by_provider["fal_standard"]["fallback_provider"] == "local"

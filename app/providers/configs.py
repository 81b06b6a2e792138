"""Typed `provider_config` for each provider type (field names and descriptions per the contract).

Every field carries a default so an admin can start from `{}` and override what matters;
bounds are enforced here and reported as 422s naming the field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.providers.enums import ProviderType

_SAVES_RAM = "similarity threshold. 0 to disable (saves ~2GB RAM)."


class _ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    additional_properties: dict[str, Any] | None = None


class AiCoreProviderConfig(_ProviderConfig):
    provider_type: Literal["ai_core"] | None = "ai_core"
    ai_provider: str = Field(
        default="openai",
        description="AI provider to use: 'openai', 'anthropic', 'gemini', 'ollama'",
    )
    model: str = Field(
        default="gpt-4o", description="Model name (e.g., 'gpt-4', 'claude-3-opus-20240229')"
    )
    temperature: float | None = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=1024, gt=0)


class NanoBananaUpscalerConfig(_ProviderConfig):
    provider_type: Literal["nano_banana_upscaler"] | None = "nano_banana_upscaler"
    default_prompt: str | None = (
        "Upscale this image to a higher resolution. Keep the composition, identity, garments, "
        "colours and text exactly as they are; only add fine, faithful detail."
    )
    max_retries: int | None = Field(
        default=2, ge=0, le=10, description="Maximum API retries for failed consistency checks."
    )
    ssim_threshold: float | None = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="SSIM threshold for structural consistency. Set to 0 to disable.",
    )


class FalShootifyRefinerConfig(_ProviderConfig):
    provider_type: Literal["fal_shootify_refiner"] | None = "fal_shootify_refiner"
    fal_app_id: str = Field(
        default="workflows/Shootify/flux-krea-lora-i2i",
        description="FAL application ID for refinement",
    )
    fal_request_id: str | None = None


class FalStandardConfig(_ProviderConfig):
    provider_type: Literal["fal_standard"] | None = "fal_standard"
    fal_app_id: str = Field(default="fal-ai/flux/dev", description="FAL application ID")
    fal_request_id: str | None = None
    additional_static_params: dict[str, Any] | None = None


FreepikEngine = Literal["automatic", "magnific_illusio", "magnific_sharpy", "magnific_sparkle"]
FreepikOptimizedFor = Literal[
    "standard",
    "soft_portraits",
    "hard_portraits",
    "art_n_illustration",
    "videogame_assets",
    "nature_n_landscapes",
    "films_n_photography",
    "3d_renders",
    "science_fiction_n_horror",
]


class FreepikMagnificConfig(_ProviderConfig):
    provider_type: Literal["freepik_magnific"] | None = "freepik_magnific"
    creativity: int | None = Field(
        default=0, ge=-10, le=10, description="Creativity level (-10 to 10)"
    )
    hdr: int | None = Field(
        default=0, ge=-10, le=10, description="HDR enhancement level (-10 to 10)"
    )
    resemblance: int | None = Field(
        default=0, ge=-10, le=10, description="Resemblance to original (-10 to 10)"
    )
    fractality: int | None = Field(
        default=0, ge=-10, le=10, description="Fractality level (-10 to 10)"
    )
    engine: FreepikEngine | None = Field(
        default="automatic", description="Processing engine to use"
    )
    optimized_for: FreepikOptimizedFor | None = Field(
        default="standard", description="Optimization target for the upscaling"
    )
    defaultPrompt: str | None = None


class FreepikMagnificPrecisionConfig(_ProviderConfig):
    provider_type: Literal["freepik_magnific_precision"] | None = "freepik_magnific_precision"
    sharpen: int | None = Field(default=50, ge=0, le=100, description="Sharpening level (0 to 100)")
    smart_grain: int | None = Field(
        default=7, ge=0, le=100, description="Smart grain level (0 to 100)"
    )
    ultra_detail: int | None = Field(
        default=30, ge=0, le=100, description="Ultra detail level (0 to 100)"
    )
    defaultPrompt: str | None = None


class SartiqUltimateFaceFixerConfig(_ProviderConfig):
    provider_type: Literal["sartiq_ultimate_face_fixer"] | None = "sartiq_ultimate_face_fixer"
    face_prompt: str | None = None
    expand_percent: float | None = Field(
        default=0.5, ge=0.0, le=5.0, description="Face bbox expansion percentage (0.5 = 50%)"
    )
    feather_px: int | None = Field(
        default=24, ge=0, le=512, description="Feather width in pixels for blending"
    )
    max_retries: int | None = Field(
        default=2, ge=0, le=10, description="Maximum API retries for failed consistency checks"
    )
    ssim_threshold: float | None = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="SSIM threshold for structural consistency. 0 to disable.",
    )
    lpips_threshold: float | None = Field(
        default=0.0, ge=0.0, le=1.0, description=f"LPIPS {_SAVES_RAM}"
    )
    dists_threshold: float | None = Field(
        default=0.0, ge=0.0, le=1.0, description=f"DISTS {_SAVES_RAM}"
    )
    save_debug_images: bool | None = Field(
        default=False, description="Save intermediate images for debugging"
    )


class SartiqUltimateGarmentFixerConfig(_ProviderConfig):
    provider_type: Literal["sartiq_ultimate_garment_fixer"] | None = "sartiq_ultimate_garment_fixer"
    bbox_expand_percent: float | None = Field(
        default=0.05,
        ge=0.0,
        le=2.0,
        description="How much to expand garment bounding box (0.05 = 5% larger).",
    )
    split_threshold: float | None = Field(
        default=1.8,
        ge=1.0,
        le=10.0,
        description="Aspect ratio threshold for splitting elongated bboxes into 2 tiles.",
    )
    feather_px: int | None = Field(
        default=32,
        ge=0,
        le=512,
        description="Feather width in pixels for garment tile blending. 0 to disable.",
    )
    max_retries: int | None = Field(
        default=2, ge=0, le=10, description="Max retries per tile for failed consistency checks."
    )
    ssim_threshold: float | None = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="SSIM threshold for structural consistency. 0 to disable.",
    )
    lpips_threshold: float | None = Field(
        default=0.0, ge=0.0, le=1.0, description=f"LPIPS {_SAVES_RAM}"
    )
    dists_threshold: float | None = Field(
        default=0.0, ge=0.0, le=1.0, description=f"DISTS {_SAVES_RAM}"
    )
    save_debug_images: bool | None = Field(
        default=False, description="Save intermediate images for debugging."
    )


class SartiqUltimateRefinerConfig(_ProviderConfig):
    provider_type: Literal["sartiq_ultimate_refiner"] | None = "sartiq_ultimate_refiner"
    version: Literal["1", "2"] | None = Field(
        default="2",
        description=(
            "Pipeline version. '1' = face detection + Lab color correction + adaptive "
            "resolution. '2' = simplified with histogram color correction + always 4K + "
            "no face processing."
        ),
    )
    num_tiles: int | None = Field(
        default=16,
        ge=1,
        le=256,
        description="Target number of tiles. Grid layout matches image aspect ratio.",
    )
    max_workers: int | None = Field(default=2, ge=1, le=64)
    feather_px: int | None = Field(
        default=32,
        ge=0,
        le=512,
        description="Feather width in pixels for tile blending. 0 to disable.",
    )
    face_expand_percent: float | None = Field(
        default=0.5,
        ge=0.0,
        le=5.0,
        description=(
            "How much to expand face bounding box (0.5 = 50% larger). V1 only, ignored in V2."
        ),
    )
    max_retries: int | None = Field(
        default=2, ge=0, le=10, description="Max retries per tile for failed consistency checks."
    )
    ssim_threshold: float | None = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="SSIM threshold for structural consistency. 0 to disable.",
    )
    lpips_threshold: float | None = Field(
        default=0.0, ge=0.0, le=1.0, description=f"LPIPS {_SAVES_RAM}"
    )
    dists_threshold: float | None = Field(
        default=0.0, ge=0.0, le=1.0, description=f"DISTS {_SAVES_RAM}"
    )
    save_debug_tiles: bool | None = Field(
        default=False, description="Save intermediate tiles for debugging."
    )


class VertexConfig(_ProviderConfig):
    provider_type: Literal["vertex"] | None = "vertex"
    model: str | None = "gemini-2.5-flash-image"
    aspect_ratio: (
        Literal["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"] | None
    ) = None
    image_size: Literal["1K", "2K", "4K"] | None = Field(
        default="1K", description="Output image size: '1K', '2K', or '4K'."
    )
    system_instructions: str | None = None
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=2.0,
        description="Sampling temperature (0.0-2.0). Higher = more creative.",
    )
    top_p: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Top-p (nucleus) sampling threshold (0.0-1.0).",
    )


class LocalConfig(_ProviderConfig):
    """The offline preview renderer has nothing to configure; kept typed for symmetry."""

    provider_type: Literal["local"] | None = "local"


ProviderConfig = (
    AiCoreProviderConfig
    | NanoBananaUpscalerConfig
    | FalShootifyRefinerConfig
    | FalStandardConfig
    | FreepikMagnificConfig
    | FreepikMagnificPrecisionConfig
    | SartiqUltimateFaceFixerConfig
    | SartiqUltimateGarmentFixerConfig
    | SartiqUltimateRefinerConfig
    | VertexConfig
)

CONFIG_BY_PROVIDER: dict[ProviderType, type[_ProviderConfig]] = {
    ProviderType.AI_CORE: AiCoreProviderConfig,
    ProviderType.NANO_BANANA_UPSCALER: NanoBananaUpscalerConfig,
    ProviderType.FAL_SHOOTIFY_REFINER: FalShootifyRefinerConfig,
    ProviderType.FAL_STANDARD: FalStandardConfig,
    ProviderType.FREEPIK_MAGNIFIC: FreepikMagnificConfig,
    ProviderType.FREEPIK_MAGNIFIC_PRECISION: FreepikMagnificPrecisionConfig,
    ProviderType.SARTIQ_ULTIMATE_FACE_FIXER: SartiqUltimateFaceFixerConfig,
    ProviderType.SARTIQ_ULTIMATE_GARMENT_FIXER: SartiqUltimateGarmentFixerConfig,
    ProviderType.SARTIQ_ULTIMATE_REFINER: SartiqUltimateRefinerConfig,
    ProviderType.VERTEX: VertexConfig,
    ProviderType.LOCAL: LocalConfig,
}


def parse_provider_config(provider: ProviderType, raw: Any) -> _ProviderConfig:
    """Validate a raw config against its provider's schema (raises pydantic ValidationError)."""
    config_cls = CONFIG_BY_PROVIDER[provider]
    if isinstance(raw, config_cls):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(exclude_unset=True)
    data = dict(raw or {})
    declared = data.get("provider_type")
    if declared is not None and declared != provider.value:
        raise ValueError(f"provider_type {declared!r} does not match provider {provider.value!r}")
    return config_cls.model_validate(data)

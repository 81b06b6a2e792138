"""The generation models a fresh installation starts with.

Besides the offline preview, one model per external provider is seeded as `beta` and not
recommended: it works as soon as its credentials are set (FAL_KEY, FREEPIK_API_KEY,
GEMINI_API_KEY or VERTEX_PROJECT); until then using it fails with a configuration error and
the pipeline falls back where a fallback is set.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.models.generation_model import GenerativeModel
from app.providers.configs import (
    FalShootifyRefinerConfig,
    FalStandardConfig,
    FreepikMagnificConfig,
    FreepikMagnificPrecisionConfig,
    LocalConfig,
    NanoBananaUpscalerConfig,
    SartiqUltimateFaceFixerConfig,
    SartiqUltimateGarmentFixerConfig,
    SartiqUltimateRefinerConfig,
    VertexConfig,
)
from app.providers.enums import GenerationTool, ProviderCapability, ProviderType

C = ProviderCapability
T = GenerationTool
LOCAL_CAPABILITIES = [
    C.TEXT_TO_IMAGE,
    C.IMAGE_EDITING,
    C.REFERENCE_IMAGES,
    C.SEED,
    C.NEGATIVE_PROMPT,
]


def _beta(
    name: str,
    provider: ProviderType,
    config: Any,
    capabilities: list[ProviderCapability],
    tools: list[GenerationTool],
    *,
    fallback_to_local: bool = False,
    max_side: int = 4096,
) -> GenerativeModel:
    return GenerativeModel(
        name=name,
        provider=provider,
        provider_config=config.model_dump(mode="json"),
        provider_capabilities=[str(c) for c in capabilities],
        fallback_provider=ProviderType.LOCAL if fallback_to_local else None,
        fallback_provider_config=LocalConfig().model_dump(mode="json")
        if fallback_to_local
        else None,
        fallback_provider_capabilities=[str(c) for c in LOCAL_CAPABILITIES]
        if fallback_to_local
        else None,
        tool_types=[str(t) for t in tools],
        recommended=False,
        beta=True,
        max_output_width=max_side,
        max_output_height=max_side,
        max_size_pixels=max_side * max_side,
    )


def default_generation_models() -> list[GenerativeModel]:
    return [
        GenerativeModel(
            name="Local preview",
            icon=None,
            provider=ProviderType.LOCAL,
            provider_config=LocalConfig().model_dump(mode="json"),
            provider_capabilities=list(LOCAL_CAPABILITIES),
            tool_types=[GenerationTool.BASE_GENERATION, GenerationTool.EDITING],
            recommended=True,
            beta=False,
            max_output_width=4096,
            max_output_height=4096,
            max_size_pixels=4096 * 4096,
        ),
        # Offline tools (numpy / Pillow / OpenCV): they work with zero configuration too.
        _local_tool(
            "Local image tools",
            ProviderType.LOCAL,
            LocalConfig(),
            [ProviderCapability.BACKGROUND_FIXING, ProviderCapability.IMAGE_ADJUSTING],
            [GenerationTool.BACKGROUND_FIXING, GenerationTool.IMAGE_ADJUSTING],
        ),
        # Version '1': the output follows the requested scale / target size (version '2' would
        # always make 4K, whatever the request asks).
        _local_tool(
            "Sartiq Ultimate Refiner",
            ProviderType.SARTIQ_ULTIMATE_REFINER,
            SartiqUltimateRefinerConfig(version="1"),
            [ProviderCapability.REFINE, ProviderCapability.UPSCALE],
            [GenerationTool.REFINE],
        ),
        _local_tool(
            "Sartiq Ultimate Face Fixer",
            ProviderType.SARTIQ_ULTIMATE_FACE_FIXER,
            SartiqUltimateFaceFixerConfig(),
            [ProviderCapability.FACE_FIXING],
            [GenerationTool.FACE_FIXING],
        ),
        _local_tool(
            "Sartiq Ultimate Garment Fixer",
            ProviderType.SARTIQ_ULTIMATE_GARMENT_FIXER,
            SartiqUltimateGarmentFixerConfig(),
            [ProviderCapability.GARMENT_FIXING],
            [GenerationTool.GARMENT_FIXING],
        ),
        _beta(
            "fal FLUX.1 [dev] (needs FAL_KEY)",
            ProviderType.FAL_STANDARD,
            FalStandardConfig(),
            [
                C.TEXT_TO_IMAGE,
                C.IMAGE_TO_IMAGE,
                C.REFERENCE_IMAGES,
                C.LORA,
                C.SEED,
                C.NEGATIVE_PROMPT,
            ],
            [T.BASE_GENERATION],
            fallback_to_local=True,
            max_side=2048,
        ),
        _beta(
            "fal Shootify refiner (needs FAL_KEY)",
            ProviderType.FAL_SHOOTIFY_REFINER,
            FalShootifyRefinerConfig(),
            [C.REFINE, C.IMAGE_TO_IMAGE, C.LORA, C.SEED],
            [T.REFINE],
        ),
        _beta(
            "Gemini 2.5 Flash Image (needs GEMINI_API_KEY or VERTEX_PROJECT)",
            ProviderType.VERTEX,
            VertexConfig(),
            [C.TEXT_TO_IMAGE, C.IMAGE_TO_IMAGE, C.IMAGE_EDITING, C.REFERENCE_IMAGES, C.SEED],
            [T.BASE_GENERATION, T.EDITING],
            fallback_to_local=True,
        ),
        _beta(
            "Magnific creative upscaler (needs FREEPIK_API_KEY)",
            ProviderType.FREEPIK_MAGNIFIC,
            FreepikMagnificConfig(),
            [C.UPSCALE],
            [T.UPSCALE],
            max_side=8192,
        ),
        _beta(
            "Magnific precision upscaler (needs FREEPIK_API_KEY)",
            ProviderType.FREEPIK_MAGNIFIC_PRECISION,
            FreepikMagnificPrecisionConfig(),
            [C.UPSCALE],
            [T.UPSCALE],
            max_side=8192,
        ),
        _beta(
            "Nano Banana upscaler (needs GEMINI_API_KEY or VERTEX_PROJECT)",
            ProviderType.NANO_BANANA_UPSCALER,
            NanoBananaUpscalerConfig(),
            [C.UPSCALE],
            [T.UPSCALE],
        ),
    ]


def _local_tool(
    name: str,
    provider: ProviderType,
    config: BaseModel,
    capabilities: list[ProviderCapability],
    tools: list[GenerationTool],
) -> GenerativeModel:
    return GenerativeModel(
        name=name,
        icon=None,
        provider=provider,
        provider_config=config.model_dump(mode="json", exclude_unset=True),
        provider_capabilities=[c.value for c in capabilities],
        tool_types=[t.value for t in tools],
        recommended=False,
        beta=False,
        max_output_width=4096,
        max_output_height=4096,
        max_size_pixels=4096 * 4096,
    )

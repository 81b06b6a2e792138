"""The generation models a fresh installation starts with."""

from __future__ import annotations

from pydantic import BaseModel

from app.models.generation_model import GenerativeModel
from app.providers.configs import (
    LocalConfig,
    SartiqUltimateFaceFixerConfig,
    SartiqUltimateGarmentFixerConfig,
    SartiqUltimateRefinerConfig,
)
from app.providers.enums import GenerationTool, ProviderCapability, ProviderType


def default_generation_models() -> list[GenerativeModel]:
    return [
        GenerativeModel(
            name="Local preview",
            icon=None,
            provider=ProviderType.LOCAL,
            provider_config=LocalConfig().model_dump(mode="json"),
            provider_capabilities=[
                ProviderCapability.TEXT_TO_IMAGE,
                ProviderCapability.IMAGE_EDITING,
                ProviderCapability.REFERENCE_IMAGES,
                ProviderCapability.SEED,
                ProviderCapability.NEGATIVE_PROMPT,
            ],
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

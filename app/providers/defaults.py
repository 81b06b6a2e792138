"""The generation models a fresh installation starts with."""

from __future__ import annotations

from app.models.generation_model import GenerativeModel
from app.providers.configs import LocalConfig
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
    ]

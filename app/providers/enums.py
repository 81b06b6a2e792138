"""Provider, capability and tool vocabularies shared by the catalogue and the pipeline."""

from enum import StrEnum


class ProviderType(StrEnum):
    AI_CORE = "ai_core"
    NANO_BANANA_UPSCALER = "nano_banana_upscaler"
    FAL_SHOOTIFY_REFINER = "fal_shootify_refiner"
    FAL_STANDARD = "fal_standard"
    FREEPIK_MAGNIFIC = "freepik_magnific"
    FREEPIK_MAGNIFIC_PRECISION = "freepik_magnific_precision"
    SARTIQ_ULTIMATE_FACE_FIXER = "sartiq_ultimate_face_fixer"
    SARTIQ_ULTIMATE_GARMENT_FIXER = "sartiq_ultimate_garment_fixer"
    SARTIQ_ULTIMATE_REFINER = "sartiq_ultimate_refiner"
    VERTEX = "vertex"
    # Offline preview renderer: works with zero configuration.
    LOCAL = "local"


class ProviderCapability(StrEnum):
    """What a provider can do; the pipeline only routes a step to a provider that declares it."""

    TEXT_TO_IMAGE = "TEXT_TO_IMAGE"
    IMAGE_TO_IMAGE = "IMAGE_TO_IMAGE"
    IMAGE_EDITING = "IMAGE_EDITING"
    REFERENCE_IMAGES = "REFERENCE_IMAGES"
    LORA = "LORA"
    SEED = "SEED"
    NEGATIVE_PROMPT = "NEGATIVE_PROMPT"
    UPSCALE = "UPSCALE"
    REFINE = "REFINE"
    FACE_FIXING = "FACE_FIXING"
    GARMENT_FIXING = "GARMENT_FIXING"
    BACKGROUND_FIXING = "BACKGROUND_FIXING"
    IMAGE_ADJUSTING = "IMAGE_ADJUSTING"
    VIDEO_GENERATION = "VIDEO_GENERATION"
    TEXT_GENERATION = "TEXT_GENERATION"
    VISION = "VISION"


class GenerationTool(StrEnum):
    """The product feature a generation model serves (Sartiq's `tool_types`)."""

    BASE_GENERATION = "BASE_GENERATION"
    EDITING = "EDITING"
    REFINE = "REFINE"
    UPSCALE = "UPSCALE"
    FACE_FIXING = "FACE_FIXING"
    GARMENT_FIXING = "GARMENT_FIXING"
    BACKGROUND_FIXING = "BACKGROUND_FIXING"
    IMAGE_ADJUSTING = "IMAGE_ADJUSTING"
    VIDEO_GENERATION = "VIDEO_GENERATION"
    PROMPT_GENERATION = "PROMPT_GENERATION"
    EVALUATION = "EVALUATION"

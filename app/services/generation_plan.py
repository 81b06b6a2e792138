"""Which model and provider serve each step of a generation, decided (and checked) at creation.

A step is servable by a model when the model's provider is registered and both the provider
implementation and the model's declared capabilities cover the step's task. The chosen
providers and their configs are copied into the generation's plan, so later edits of the
catalogue do not change work already accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.core.errors import InvalidInput
from app.models.generation import GenerationCreate, GenerationStrategy
from app.models.generation_model import GenerativeModel
from app.providers.enums import GenerationTool, ProviderCapability, ProviderType
from app.providers.registry import ProviderRegistry

DEFAULT_SIZE = 1024

STRATEGY_ROUTES: dict[GenerationStrategy, tuple[GenerationTool, ProviderCapability]] = {
    GenerationStrategy.GENERATE: (GenerationTool.BASE_GENERATION, ProviderCapability.TEXT_TO_IMAGE),
    GenerationStrategy.EDITING: (GenerationTool.EDITING, ProviderCapability.IMAGE_EDITING),
    GenerationStrategy.REFINE: (GenerationTool.REFINE, ProviderCapability.REFINE),
    GenerationStrategy.FACE_FIXING: (GenerationTool.FACE_FIXING, ProviderCapability.FACE_FIXING),
    GenerationStrategy.BACKGROUND_FIXING: (
        GenerationTool.BACKGROUND_FIXING,
        ProviderCapability.BACKGROUND_FIXING,
    ),
    GenerationStrategy.IMAGE_ADJUSTING: (
        GenerationTool.IMAGE_ADJUSTING,
        ProviderCapability.IMAGE_ADJUSTING,
    ),
    GenerationStrategy.VIDEO: (
        GenerationTool.VIDEO_GENERATION,
        ProviderCapability.VIDEO_GENERATION,
    ),
}
# Strategies that transform an existing image rather than create one.
SOURCE_IMAGE_STRATEGIES = frozenset(
    {
        GenerationStrategy.REFINE,
        GenerationStrategy.FACE_FIXING,
        GenerationStrategy.BACKGROUND_FIXING,
        GenerationStrategy.IMAGE_ADJUSTING,
        GenerationStrategy.VIDEO,
    }
)


@dataclass(frozen=True)
class PlannedSize:
    width: int
    height: int


def _capabilities(
    registry: ProviderRegistry, provider: str | None, declared: list[str] | None
) -> frozenset[str]:
    if provider is None:
        return frozenset()
    try:
        provider_type = ProviderType(provider)
    except ValueError:
        return frozenset()
    if not registry.is_registered(provider_type):
        return frozenset()
    implemented = {str(c) for c in registry.capabilities(provider_type)}
    if declared is None:
        return frozenset(implemented)
    return frozenset(implemented & {str(c) for c in declared})


def can_serve(registry: ProviderRegistry, model: GenerativeModel, task: ProviderCapability) -> bool:
    return task.value in _capabilities(registry, model.provider, model.provider_capabilities)


def step_for(
    registry: ProviderRegistry, name: str, task: ProviderCapability, model: GenerativeModel
) -> dict[str, Any]:
    fallback_ok = task.value in _capabilities(
        registry, model.fallback_provider, model.fallback_provider_capabilities
    )
    return {
        "name": name,
        "task": task.value,
        "model_id": str(model.id),
        "model_name": model.name,
        "provider": str(model.provider),
        "config": model.provider_config,
        "fallback_provider": str(model.fallback_provider) if fallback_ok else None,
        "fallback_config": (model.fallback_provider_config or {}) if fallback_ok else None,
        # Tools that size their own output (the v1 refiner's adaptive target) stay within them.
        "limits": {
            "max_output_width": model.max_output_width,
            "max_output_height": model.max_output_height,
            "max_size_pixels": model.max_size_pixels,
        },
    }


def _ranked(models: list[GenerativeModel]) -> list[GenerativeModel]:
    return sorted(models, key=lambda m: (not m.recommended, m.created_at, str(m.id)))


def choose_model(
    registry: ProviderRegistry,
    models: list[GenerativeModel],
    *,
    tools: tuple[GenerationTool, ...],
    task: ProviderCapability,
) -> GenerativeModel | None:
    for model in _ranked(models):
        if any(tool.value in model.tool_types for tool in tools) and can_serve(
            registry, model, task
        ):
            return model
    return None


def main_route(
    data: GenerationCreate,
) -> tuple[GenerationStrategy, GenerationTool, ProviderCapability]:
    strategy = data.generation_strategy or GenerationStrategy.GENERATE
    tool, task = STRATEGY_ROUTES[strategy]
    return strategy, data.tool or tool, task


def select_main_model(
    registry: ProviderRegistry,
    models: list[GenerativeModel],
    requested: GenerativeModel | None,
    data: GenerationCreate,
) -> GenerativeModel:
    strategy, tool, task = main_route(data)
    if requested is not None:
        if not can_serve(registry, requested, task):
            raise InvalidInput.field(
                ["body", "generative_models_id"],
                f"Generation model {requested.name!r} cannot serve generation_strategy "
                f"{strategy.value}: it needs a provider able to do {task.value}",
                str(requested.id),
            )
        return requested
    model = choose_model(registry, models, tools=(tool,), task=task)
    if model is None:
        raise InvalidInput.field(
            ["body", "generation_strategy"],
            f"No configured generation model can serve generation_strategy {strategy.value}: "
            f"it needs a model with tool {tool.value} whose provider can do {task.value}",
            strategy.value,
        )
    return model


def check_size(model: GenerativeModel, width: int, height: int, fields: tuple[str, str]) -> None:
    if model.max_output_width is not None and width > model.max_output_width:
        raise InvalidInput.field(
            ["body", fields[0]],
            f"must be at most {model.max_output_width} for model {model.name!r}",
            width,
        )
    if model.max_output_height is not None and height > model.max_output_height:
        raise InvalidInput.field(
            ["body", fields[1]],
            f"must be at most {model.max_output_height} for model {model.name!r}",
            height,
        )
    if model.max_size_pixels is not None and width * height > model.max_size_pixels:
        raise InvalidInput.field(
            ["body", fields[0]],
            f"{width}x{height} exceeds the {model.max_size_pixels} pixels model "
            f"{model.name!r} can produce",
            width,
        )


def output_size(
    model: GenerativeModel, data: GenerationCreate, default: tuple[int, int] | None = None
) -> PlannedSize:
    default_width, default_height = default or (
        min(DEFAULT_SIZE, model.max_output_width or DEFAULT_SIZE),
        min(DEFAULT_SIZE, model.max_output_height or DEFAULT_SIZE),
    )
    width = data.width or default_width
    height = data.height or default_height
    check_size(model, width, height, ("width", "height"))
    return PlannedSize(width, height)


def final_size(size: PlannedSize, data: GenerationCreate) -> PlannedSize:
    if data.target_width or data.target_height:
        ratio = size.height / size.width
        width = data.target_width or math.ceil((data.target_height or 0) / ratio)
        height = data.target_height or math.ceil(width * ratio)
        return PlannedSize(width, height)
    if data.scale_factor:
        return PlannedSize(
            round(size.width * data.scale_factor), round(size.height * data.scale_factor)
        )
    return size


def post_steps(
    registry: ProviderRegistry,
    models: list[GenerativeModel],
    data: GenerationCreate,
    size: PlannedSize,
) -> list[dict[str, Any]]:
    """Refine and/or upscale after the main step, when the request asks for it."""
    strategy = data.generation_strategy or GenerationStrategy.GENERATE
    scaling = bool(data.scale_factor and data.scale_factor != 1) or bool(
        data.target_width or data.target_height
    )
    tools: tuple[GenerationTool, ...]
    if strategy == GenerationStrategy.REFINE:
        # The refiner is the main step and sizes its output itself (scale factor or target
        # size, within its model's limits): another upscale after it would scale twice.
        return []
    if data.refine:
        name, task, tools, field = (
            "refine",
            ProviderCapability.REFINE,
            (GenerationTool.REFINE,),
            "refine",
        )
    elif scaling:
        name, task, tools = (
            "upscale",
            ProviderCapability.UPSCALE,
            (GenerationTool.UPSCALE, GenerationTool.REFINE),
        )
        field = "target_width" if data.target_width or data.target_height else "scale_factor"
    else:
        return []
    model = choose_model(registry, models, tools=tools, task=task)
    if model is None:
        raise InvalidInput.field(
            ["body", field],
            f"{field} asks for a {name} step, but no configured generation model can do "
            f"{task.value}",
            getattr(data, field),
        )
    final = final_size(size, data)
    check_size(model, final.width, final.height, ("target_width", "target_height"))
    return [step_for(registry, name, task, model)]

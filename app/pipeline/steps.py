"""The steps of one prediction, each through the registry, with fallback and attempt records."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings
from app.models.generation import Generation
from app.pipeline.inputs import load_image
from app.providers.base import (
    ErrorCategory,
    InputImage,
    LoraSpec,
    OutputImage,
    ProviderError,
    ProviderRequest,
    ProviderResult,
)
from app.providers.enums import ProviderCapability, ProviderType
from app.providers.registry import ProviderRegistry, UnknownProvider

logger = logging.getLogger(__name__)

Progress = Callable[[float, str | None], Awaitable[None]]
IMAGE_ROLES = (
    ("product_image", "product"),
    ("product2_image", "product2"),
    ("subject_image", "subject"),
    ("base_image", "base"),
)


class StepFailed(Exception):
    def __init__(self, message: str, category: str, attempts: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.attempts = attempts


@dataclass
class StepsOutcome:
    image: OutputImage
    provider: str
    fallback_used: bool
    fallback_reason: str | None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    provider_time_ms: int = 0


async def load_inputs(generation: Generation, settings: Settings) -> list[InputImage]:
    inputs = generation.inputs
    images: list[InputImage] = []
    for key, role in IMAGE_ROLES:
        if url := inputs.get(key):
            images.append(await load_image(url, role, settings))
    for url in inputs.get("reference_images") or []:
        images.append(await load_image(url, "reference", settings))
    return images


def main_request(
    generation: Generation, seed: int, step: dict[str, Any], images: list[InputImage]
) -> ProviderRequest:
    inputs = generation.inputs
    return ProviderRequest(
        task=ProviderCapability(step["task"]),
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        width=generation.width,
        height=generation.height,
        seed=seed,
        num_images=1,
        loras=[LoraSpec(**lora) for lora in inputs.get("loras") or []],
        images=images,
        options={
            key: inputs.get(key)
            for key in ("background", "tone", "framing", "view_angle", "lighting", "pose")
            if inputs.get(key)
        }
        | {
            "steps": generation.steps,
            "reference_image_strength": inputs.get("reference_image_strength"),
        },
    )


def post_request(
    generation: Generation, seed: int, step: dict[str, Any], previous: OutputImage
) -> ProviderRequest:
    return ProviderRequest(
        task=ProviderCapability(step["task"]),
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        width=previous.width,
        height=previous.height,
        seed=seed,
        images=[InputImage(data=previous.data, mime_type=previous.mime_type, role="base")],
        scale_factor=generation.scale_factor,
        target_width=generation.target_width,
        target_height=generation.target_height,
    )


async def _call(
    registry: ProviderRegistry,
    provider: str,
    config: Any,
    request: ProviderRequest,
    timeout: float,
    on_progress: Progress,
) -> ProviderResult:
    try:
        implementation = registry.create(ProviderType(provider), config)
    except (UnknownProvider, ValueError) as exc:
        raise ProviderError(str(exc), ErrorCategory.CONFIGURATION) from exc
    if not implementation.supports(request.task):
        raise ProviderError(
            f"provider {provider} cannot do {request.task.value}", ErrorCategory.CONFIGURATION
        )
    try:
        async with asyncio.timeout(timeout):
            result = await implementation.run(request, on_progress)
    except TimeoutError as exc:
        raise ProviderError(f"no answer within {timeout:g}s", ErrorCategory.TIMEOUT) from exc
    if not result.images:
        raise ProviderError("the provider returned no image", ErrorCategory.NO_IMAGE)
    return result


async def run_step(
    registry: ProviderRegistry,
    step: dict[str, Any],
    request: ProviderRequest,
    *,
    timeout: float,
    on_progress: Progress,
    attempts: list[dict[str, Any]],
) -> tuple[ProviderResult, str, str | None, int]:
    """Primary, then fallback on any failure; returns (result, served by, fallback reason, ms)."""
    candidates = [("primary", step["provider"], step["config"])]
    if step.get("fallback_provider"):
        candidates.append(("fallback", step["fallback_provider"], step.get("fallback_config")))
    reason: str | None = None
    spent_ms = 0
    last: ProviderError | None = None
    for role, provider, config in candidates:
        started = datetime.now(UTC)
        clock = time.perf_counter()
        record: dict[str, Any] = {
            "step": step["name"],
            "task": step["task"],
            "provider": provider,
            "role": role,
            "started_at": started.isoformat(),
        }
        try:
            result = await _call(registry, provider, config, request, timeout, on_progress)
        except asyncio.CancelledError:
            record |= {"duration_ms": _ms(clock), "outcome": "cancelled"}
            attempts.append(record)
            raise
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, ProviderError)
                else ProviderError(f"{type(exc).__name__}: {exc}", ErrorCategory.INTERNAL)
            )
            if not isinstance(exc, ProviderError):
                logger.exception("provider %s raised unexpectedly", provider)
            duration = _ms(clock)
            spent_ms += duration
            record |= {
                "duration_ms": duration,
                "outcome": "error",
                "error": error.message,
                "error_category": error.category.value,
            }
            attempts.append(record)
            last = error
            reason = f"{provider} failed ({error.category.value}): {error.message}"
            continue
        duration = _ms(clock)
        record |= {"duration_ms": duration, "outcome": "success"}
        attempts.append(record)
        return result, provider, (reason if role == "fallback" else None), spent_ms + duration
    assert last is not None
    if len(candidates) == 1:
        message = f"{step['name']} step failed on {step['provider']}: {last.message}"
    else:
        message = (
            f"{step['name']} step failed on {step['provider']} and on its fallback: {last.message}"
        )
    raise StepFailed(message, last.category.value, attempts)


def _ms(clock: float) -> int:
    return round((time.perf_counter() - clock) * 1000)


async def run_steps(
    registry: ProviderRegistry,
    settings: Settings,
    generation: Generation,
    seed: int,
    on_progress: Progress,
) -> StepsOutcome:
    attempts: list[dict[str, Any]] = []
    try:
        images = await load_inputs(generation, settings)
    except ProviderError as exc:
        raise StepFailed(exc.message, exc.category.value, attempts) from exc
    plan = generation.plan
    current: OutputImage | None = None
    served: list[str] = []
    fallback_reasons: list[str] = []
    provider_ms = 0
    for index, step in enumerate(plan):

        async def scaled(fraction: float, message: str | None, index: int = index) -> None:
            await on_progress((index + max(0.0, min(1.0, fraction))) / len(plan), message)

        request = (
            main_request(generation, seed, step, images)
            if current is None
            else post_request(generation, seed, step, current)
        )
        result, provider, reason, ms = await run_step(
            registry,
            step,
            request,
            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
            on_progress=scaled,
            attempts=attempts,
        )
        provider_ms += ms
        current = result.images[0]
        served.append(provider)
        if reason:
            fallback_reasons.append(reason)
    assert current is not None
    return StepsOutcome(
        image=current,
        provider=served[0] if len(served) == 1 else " -> ".join(served),
        fallback_used=bool(fallback_reasons),
        fallback_reason="; ".join(fallback_reasons) or None,
        attempts=attempts,
        provider_time_ms=provider_ms,
    )

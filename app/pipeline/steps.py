"""The steps of one prediction, each through the registry, with fallback and attempt records."""

from __future__ import annotations

import asyncio
import hashlib
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
    def __init__(
        self,
        message: str,
        category: str,
        attempts: list[dict[str, Any]],
        evaluation: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.attempts = attempts
        # AGENTIC: the attempts made before giving up.
        self.evaluation = evaluation


@dataclass
class StepsOutcome:
    image: OutputImage
    provider: str
    fallback_used: bool
    fallback_reason: str | None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    provider_time_ms: int = 0
    # What ran, for the reproducibility manifest: the prompt and seed sent, each step with
    # the model and provider that served it and the report the provider returned.
    prompt: str = ""
    negative_prompt: str | None = None
    seed: int | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    input_images: list[dict[str, Any]] = field(default_factory=list)
    # Set by the agentic loop: every attempt with its scores.
    evaluation: dict[str, Any] | None = None


def image_hashes(images: list[InputImage]) -> list[dict[str, Any]]:
    return [
        {
            "role": image.role,
            "sha256": hashlib.sha256(image.data).hexdigest(),
            "mime_type": image.mime_type,
            "size_bytes": len(image.data),
        }
        for image in images
    ]


def check_expected_inputs(generation: Generation, images: list[InputImage]) -> None:
    """A replay must start from the same input images as the prediction it reproduces."""
    expected = generation.inputs.get("expected_input_sha256")
    if expected is None:
        return
    actual = [entry["sha256"] for entry in image_hashes(images)]
    if actual != list(expected):
        raise ProviderError(
            "the input images differ from the ones the replayed prediction used "
            f"(sha256 {actual} instead of {list(expected)})",
            ErrorCategory.INVALID_INPUT,
        )


async def load_inputs(generation: Generation, settings: Settings) -> list[InputImage]:
    inputs = generation.inputs
    images: list[InputImage] = []
    for key, role in IMAGE_ROLES:
        if url := inputs.get(key):
            images.append(await load_image(url, role, settings))
    for url in inputs.get("reference_images") or []:
        images.append(await load_image(url, "reference", settings))
    return images


def _limits(step: dict[str, Any]) -> dict[str, Any]:
    """The serving model's output limits, for tools that size their output themselves."""
    return {key: value for key, value in (step.get("limits") or {}).items() if value is not None}


# Main-step tasks that size their own output: they get the requested scale or target size.
SIZING_TASKS = frozenset({ProviderCapability.REFINE, ProviderCapability.UPSCALE})


def main_request(
    generation: Generation,
    seed: int,
    step: dict[str, Any],
    images: list[InputImage],
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
) -> ProviderRequest:
    inputs = generation.inputs
    task = ProviderCapability(step["task"])
    sizing = task in SIZING_TASKS
    return ProviderRequest(
        task=task,
        prompt=generation.prompt if prompt is None else prompt,
        negative_prompt=generation.negative_prompt if prompt is None else negative_prompt,
        width=generation.width,
        height=generation.height,
        seed=seed,
        num_images=1,
        loras=[LoraSpec(**lora) for lora in inputs.get("loras") or []],
        images=images,
        scale_factor=generation.scale_factor if sizing else None,
        target_width=generation.target_width if sizing else None,
        target_height=generation.target_height if sizing else None,
        options={
            key: inputs.get(key)
            for key in ("background", "tone", "framing", "view_angle", "lighting", "pose")
            if inputs.get(key)
        }
        | {
            "steps": generation.steps,
            "reference_image_strength": inputs.get("reference_image_strength"),
        }
        | _limits(step),
    )


def post_request(
    generation: Generation,
    seed: int,
    step: dict[str, Any],
    previous: OutputImage,
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
) -> ProviderRequest:
    return ProviderRequest(
        task=ProviderCapability(step["task"]),
        prompt=generation.prompt if prompt is None else prompt,
        negative_prompt=generation.negative_prompt if prompt is None else negative_prompt,
        width=previous.width,
        height=previous.height,
        seed=seed,
        images=[InputImage(data=previous.data, mime_type=previous.mime_type, role="base")],
        scale_factor=generation.scale_factor,
        target_width=generation.target_width,
        target_height=generation.target_height,
        options=_limits(step),
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
    """Primary, then fallback on any failure; returns (result, served by, fallback reason, ms).

    The attempt that succeeded is the last one appended to `attempts` (its `role` says
    whether the fallback served)."""
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
    images = await prepare_inputs(generation, settings)
    return await run_plan(registry, settings, generation, seed, images, on_progress)


async def prepare_inputs(generation: Generation, settings: Settings) -> list[InputImage]:
    try:
        images = await load_inputs(generation, settings)
        check_expected_inputs(generation, images)
    except ProviderError as exc:
        raise StepFailed(exc.message, exc.category.value, []) from exc
    return images


def _json_safe(value: Any) -> Any:
    """Provider reports may hold numpy scalars, tuples or paths: keep what JSON can store."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return str(value)


async def run_plan(
    registry: ProviderRegistry,
    settings: Settings,
    generation: Generation,
    seed: int,
    images: list[InputImage],
    on_progress: Progress,
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
) -> StepsOutcome:
    """Run every step of the plan once; `prompt`/`negative_prompt` override the generation's."""
    attempts: list[dict[str, Any]] = []
    plan = generation.plan
    current: OutputImage | None = None
    served: list[str] = []
    fallback_reasons: list[str] = []
    steps: list[dict[str, Any]] = []
    provider_ms = 0
    sent_prompt = generation.prompt if prompt is None else prompt
    sent_negative = generation.negative_prompt if prompt is None else negative_prompt
    for index, step in enumerate(plan):

        async def scaled(fraction: float, message: str | None, index: int = index) -> None:
            await on_progress((index + max(0.0, min(1.0, fraction))) / len(plan), message)

        request = (
            main_request(
                generation, seed, step, images, prompt=sent_prompt, negative_prompt=sent_negative
            )
            if current is None
            else post_request(
                generation, seed, step, current, prompt=sent_prompt, negative_prompt=sent_negative
            )
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
        role = attempts[-1]["role"]
        steps.append(
            {
                "name": step["name"],
                "task": step["task"],
                "model_id": step.get("model_id"),
                "model_name": step.get("model_name"),
                "provider": provider,
                "role": role,
                "config": step["config"] if role == "primary" else step.get("fallback_config"),
                "limits": step.get("limits"),
                "fallback_reason": reason,
                "report": _json_safe(result.metadata),
            }
        )
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
        prompt=sent_prompt,
        negative_prompt=sent_negative,
        seed=seed,
        steps=steps,
        input_images=image_hashes(images),
    )

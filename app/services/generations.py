"""Use cases of generations and predictions: create, read, cancel, retry, delete, select."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.errors import Conflict, InvalidInput, NotFound
from app.imaging.background import parse_background_text
from app.imaging.io import MIN_INPUT_SIDE
from app.models.generation import (
    MAX_SEED,
    TERMINAL_GENERATION_STATUSES,
    Generation,
    GenerationCreate,
    GenerationStatus,
    GenerationStrategy,
    GenerationType,
    Prediction,
    PredictionStatus,
)
from app.models.generation_model import GenerativeModel
from app.pipeline.inputs import InputImageError, check_image_reference
from app.pipeline.runtime import GenerationRuntime, generation_prefix
from app.providers.registry import ProviderRegistry
from app.repositories.generation_models import GenerationModelRepository, list_all_pooled
from app.repositories.generations import GenerationFilters, GenerationRepository, insert_pooled
from app.services import generation_plan as planning
from app.services.generation_options import check_callback, parse_agentic, resolve_agentic
from app.services.generation_prompt import resolve_prompt
from app.services.tenancy import OwnerScope

logger = logging.getLogger(__name__)

GENERATION_NOT_FOUND = "Generation not found"
PREDICTION_NOT_FOUND = "Prediction not found"
# Generation types this server runs; other features register theirs here.
SUPPORTED_TYPES: set[GenerationType] = {GenerationType.BASE, GenerationType.AGENTIC}
# Strategies whose source image goes through the image tools' decoder and its minimum size.
MIN_SIDE_STRATEGIES = frozenset(
    {
        GenerationStrategy.REFINE,
        GenerationStrategy.FACE_FIXING,
        GenerationStrategy.BACKGROUND_FIXING,
        GenerationStrategy.IMAGE_ADJUSTING,
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _seeds(first: int | None, count: int) -> list[int]:
    if first is None:
        return [secrets.randbelow(MAX_SEED + 1) for _ in range(count)]
    return [(first + index) % (MAX_SEED + 1) for index in range(count)]


async def _check_images(
    data: GenerationCreate, strategy: GenerationStrategy, settings: Settings
) -> None:
    references: list[tuple[list[str | int], str | None]] = [
        (["body", "product_image"], data.product_image),
        (["body", "product2_image"], data.product2_image),
        (["body", "garment_placement_base_image_url"], data.garment_placement_base_image_url),
    ]
    references += [
        (["body", "reference_images_paths", index], url)
        for index, url in enumerate(data.reference_images_paths)
    ]
    # The image tools refuse a source image under their minimum side: so does creation.
    source_loc = (
        ["body", "garment_placement_base_image_url"]
        if data.garment_placement_base_image_url
        else ["body", "reference_images_paths", 0]
    )
    min_side = MIN_INPUT_SIDE if strategy in MIN_SIDE_STRATEGIES else 0
    for loc, url in references:
        if not url:
            continue
        try:
            await check_image_reference(
                url, settings, min_side=min_side if loc == source_loc else 0
            )
        except InputImageError as exc:
            raise InvalidInput.field(loc, f"cannot use this image: {exc}", url) from exc


def _check_strategy_inputs(strategy: GenerationStrategy, data: GenerationCreate) -> None:
    if strategy == GenerationStrategy.EDITING and not data.garment_placement_base_image_url:
        raise InvalidInput.field(
            ["body", "garment_placement_base_image_url"],
            "EDITING places the product onto this base image; it is required",
            None,
        )
    if strategy in planning.SOURCE_IMAGE_STRATEGIES and not (
        data.garment_placement_base_image_url or data.reference_images_paths
    ):
        raise InvalidInput.field(
            ["body", "reference_images_paths"],
            f"{strategy.value} works on an existing image: give garment_placement_base_image_url "
            "or reference_images_paths",
            [],
        )


def _check_background(strategy: GenerationStrategy, background: str | None) -> None:
    """The background fixer paints a plain colour: refuse now what its worker would refuse."""
    if strategy != GenerationStrategy.BACKGROUND_FIXING or not background:
        return
    try:
        parse_background_text(background)
    except ValueError as exc:
        raise InvalidInput.field(
            ["body", "background"], f"BACKGROUND_FIXING needs a plain colour: {exc}", background
        ) from exc


async def create_generation(
    session: AsyncSession,
    scope: OwnerScope,
    data: GenerationCreate,
    *,
    settings: Settings,
    registry: ProviderRegistry,
    runtime: GenerationRuntime,
) -> tuple[Generation, list[Prediction]]:
    if data.organization_id is not None and data.organization_id != scope.organization_id:
        raise InvalidInput.field(
            ["body", "organization_id"],
            "must match the organization_id query parameter (the organization you act for)",
            str(data.organization_id),
        )
    generation_type = data.generation_type or GenerationType.BASE
    if generation_type not in SUPPORTED_TYPES:
        raise InvalidInput.field(
            ["body", "generation_type"],
            f"generation_type {generation_type.value} is not available on this server",
            generation_type.value,
        )
    strategy, tool, _task = planning.main_route(data)
    # On PostgreSQL the catalogue read and the insert go through the driver pool, and the
    # request's session never begins a transaction.
    pool = await runtime.db.driver_pool()
    models = (
        await list_all_pooled(pool)
        if pool is not None
        else await GenerationModelRepository(session).list_all()
    )
    requested: GenerativeModel | None = None
    if data.generative_models_id is not None:
        requested = next((m for m in models if m.id == data.generative_models_id), None)
        if requested is None:
            raise InvalidInput.field(
                ["body", "generative_models_id"],
                "Generation model not found",
                str(data.generative_models_id),
            )
    model = planning.select_main_model(registry, models, requested, data)
    _check_strategy_inputs(strategy, data)
    parse_agentic(data.config)
    await check_callback(data.config, settings)
    await _check_images(data, strategy, settings)
    # Entities are resolved here (404-free: unknown ids are 422s naming the field).
    prompt = await resolve_prompt(session, scope, data, settings=settings)
    size = planning.output_size(model, data, default=prompt.resolution)
    plan = [planning.step_for(registry, "main", _task, model)]
    plan += planning.post_steps(registry, models, data, size)
    inputs = dict(prompt.inputs)
    # The effective background: the request's, else the shooting look's.
    _check_background(strategy, inputs.get("background"))
    if strategy == GenerationStrategy.EDITING and not inputs.get("product_image"):
        raise InvalidInput.field(
            ["body", "product_image"],
            "EDITING needs the product to place: give product_image, or a product with an image",
            None,
        )
    references = list(data.reference_images_paths)
    base_image = data.garment_placement_base_image_url
    if base_image is None and strategy in planning.SOURCE_IMAGE_STRATEGIES and references:
        base_image = references.pop(0)
    inputs |= {
        "base_image": base_image,
        "reference_images": references,
        "reference_image_strength": data.reference_image_strength,
        "loras": [asdict(lora) for lora in prompt.loras],
    }
    if generation_type == GenerationType.AGENTIC:
        inputs["agentic"] = await resolve_agentic(session, settings, data.config)
    generation = Generation(
        owner_id=scope.user_id,
        organization_id=scope.organization_id,
        generative_model_id=model.id,
        generation_type=generation_type,
        generation_strategy=strategy,
        tool=tool,
        status=GenerationStatus.PENDING,
        subject_id=data.subject_id,
        product_id=data.product_id,
        product2_id=data.product2_id,
        style_id=data.style_id,
        shot_type_id=data.shot_type_id,
        pose_preset_id=data.pose_preset_id,
        batch_size=data.batch_size,
        width=size.width,
        height=size.height,
        steps=data.steps,
        seed=data.seed,
        refine=data.refine,
        scale_factor=data.scale_factor,
        target_width=data.target_width,
        target_height=data.target_height,
        auto_generate_prompt=data.auto_generate_prompt,
        prompt=prompt.prompt,
        original_prompt=prompt.original_prompt,
        negative_prompt=prompt.negative_prompt,
        prompt_source=prompt.source,
        prompt_trace=prompt.trace,
        request=data.model_dump(mode="json"),
        inputs=inputs,
        plan=plan,
        config=data.config,
    )
    return await _start(session, runtime, generation, _seeds(data.seed, data.batch_size))


async def _start(
    session: AsyncSession, runtime: GenerationRuntime, generation: Generation, seeds: list[int]
) -> tuple[Generation, list[Prediction]]:
    now = utcnow()
    predictions = [
        Prediction(
            generation_id=generation.id,
            owner_id=generation.owner_id,
            organization_id=generation.organization_id,
            position=index,
            seed=seed,
            status=PredictionStatus.PENDING,
            enqueued_at=now,
        )
        for index, seed in enumerate(seeds)
    ]
    # Committed before enqueueing: a worker must find the rows it is told to run. PENDING is
    # published before the job exists, so no worker's PROCESSING can come first.
    pool = await runtime.db.driver_pool()
    if pool is not None:
        await insert_pooled(pool, generation, predictions)
    else:
        await GenerationRepository(session).add(generation, predictions)
        await session.commit()
    await runtime.events.status(generation, GenerationStatus.PENDING)
    await _enqueue(runtime, [p.id for p in predictions])
    return generation, predictions


async def _enqueue(runtime: GenerationRuntime, ids: list[uuid.UUID]) -> None:
    try:
        await runtime.enqueue(ids)
    except Exception:
        # The rows are pending; the sweeper enqueues them again once the queue is back.
        logger.exception("enqueueing %d predictions failed", len(ids))


async def get_visible(
    session: AsyncSession, scope: OwnerScope, generation_id: uuid.UUID
) -> Generation:
    generation = await GenerationRepository(session).get(generation_id)
    if generation is None or not scope.can_see(generation.owner_id, generation.organization_id):
        raise NotFound(GENERATION_NOT_FOUND)
    return generation


async def get_generation(
    session: AsyncSession, scope: OwnerScope, generation_id: uuid.UUID
) -> tuple[Generation, list[Prediction]]:
    generation = await get_visible(session, scope, generation_id)
    predictions = await GenerationRepository(session).predictions_of([generation.id])
    return generation, predictions


async def list_generations(
    session: AsyncSession,
    scope: OwnerScope,
    filters: GenerationFilters,
    *,
    skip: int,
    limit: int,
) -> tuple[list[tuple[Generation, list[Prediction]]], int]:
    repo = GenerationRepository(session)
    generations, count = await repo.list_generations(
        scope.condition(Generation.owner_id, Generation.organization_id),
        filters,
        skip=skip,
        limit=limit,
    )
    by_generation: dict[uuid.UUID, list[Prediction]] = {g.id: [] for g in generations}
    for prediction in await repo.predictions_of(list(by_generation)):
        by_generation[prediction.generation_id].append(prediction)
    return [(g, by_generation[g.id]) for g in generations], count


async def cancel_generation(
    session: AsyncSession, scope: OwnerScope, generation_id: uuid.UUID, runtime: GenerationRuntime
) -> tuple[Generation, list[Prediction]]:
    generation = await get_visible(session, scope, generation_id)
    repo = GenerationRepository(session)
    now = utcnow()
    await repo.lock_generation(generation.id, now)
    await session.refresh(generation)
    if generation.status in TERMINAL_GENERATION_STATUSES:
        raise Conflict(f"Generation is already {generation.status}")
    stopped = await repo.cancel_active(generation.id, now)
    values: dict[str, Any] = {
        "status": GenerationStatus.CANCELLED,
        "finished_at": now,
        "updated_at": now,
        "error_message": "Cancelled",
        "error_category": "cancelled",
    }
    if generation.started_at is not None:
        values["processing_time_ms"] = int((now - generation.started_at).total_seconds() * 1000)
    await repo.update_generation(generation.id, **values)
    await session.commit()
    runtime.stop_local(stopped)
    await runtime.events.status(generation, GenerationStatus.CANCELLED)
    return await _reload(session, generation.id)


async def retry_generation(
    session: AsyncSession, scope: OwnerScope, generation_id: uuid.UUID, runtime: GenerationRuntime
) -> tuple[Generation, list[Prediction]]:
    generation = await get_visible(session, scope, generation_id)
    repo = GenerationRepository(session)
    now = utcnow()
    await repo.lock_generation(generation.id, now)
    await session.refresh(generation)
    if generation.status not in TERMINAL_GENERATION_STATUSES:
        raise Conflict(f"Generation is still {generation.status}; cancel it or wait")
    retried = await repo.reset_for_retry(generation.id, now)
    if not retried:
        raise Conflict("Generation has no failed or cancelled predictions to retry")
    counts = await repo.status_counts(generation.id)
    status = (
        GenerationStatus.PROCESSING
        if counts.get(PredictionStatus.COMPLETED, 0)
        else GenerationStatus.PENDING
    )
    await repo.update_generation(
        generation.id,
        status=status,
        finished_at=None,
        processing_time_ms=None,
        error_message=None,
        error_category=None,
        retry_count=generation.retry_count + 1,
        updated_at=now,
    )
    await session.commit()
    # Announced before the jobs exist, as at creation.
    await runtime.events.status(generation, status, data={"retried": len(retried)})
    await _enqueue(runtime, retried)
    return await _reload(session, generation.id)


async def delete_generation(
    session: AsyncSession, scope: OwnerScope, generation_id: uuid.UUID, runtime: GenerationRuntime
) -> None:
    generation = await get_visible(session, scope, generation_id)
    repo = GenerationRepository(session)
    # The generation's row first, then its predictions: the order of every writer (cancel,
    # retry, recording), which would deadlock with one locking the other way round.
    if not await repo.lock_generation(generation.id, utcnow()):
        raise NotFound(GENERATION_NOT_FOUND)
    predictions = await repo.predictions_of([generation.id])
    await repo.delete(generation.id)
    await session.commit()
    await discard_deleted(runtime, [generation.id], [p.id for p in predictions])


async def discard_deleted(
    runtime: GenerationRuntime,
    generation_ids: Sequence[uuid.UUID],
    prediction_ids: Sequence[uuid.UUID],
) -> None:
    """After the commit that deleted these generations' rows: stop their work here and remove
    their files (a worker finishing one now finds no row and removes its own file). The rows
    are gone whatever happens to the files: a storage failure is logged, not the caller's."""
    runtime.stop_local(list(prediction_ids))
    for generation_id in generation_ids:
        try:
            await runtime.storage.delete_prefix(generation_prefix(generation_id))
        except Exception:
            logger.exception(
                "removing the files of deleted generation %s failed: %s is left in storage",
                generation_id,
                generation_prefix(generation_id),
            )


async def _reload(
    session: AsyncSession, generation_id: uuid.UUID
) -> tuple[Generation, list[Prediction]]:
    repo = GenerationRepository(session)
    generation = await session.get(Generation, generation_id, populate_existing=True)
    if generation is None:
        raise NotFound(GENERATION_NOT_FOUND)
    predictions = await repo.predictions_of([generation_id])
    for prediction in predictions:
        await session.refresh(prediction)
    return generation, predictions


# --- predictions ---------------------------------------------------------------------------


async def get_prediction(
    session: AsyncSession, scope: OwnerScope, prediction_id: uuid.UUID
) -> Prediction:
    prediction = await GenerationRepository(session).get_prediction(prediction_id)
    if prediction is None or not scope.can_see(prediction.owner_id, prediction.organization_id):
        raise NotFound(PREDICTION_NOT_FOUND)
    return prediction


async def list_predictions(
    session: AsyncSession,
    scope: OwnerScope,
    *,
    generation_id: uuid.UUID | None,
    status: PredictionStatus | None,
    skip: int,
    limit: int,
) -> tuple[list[Prediction], int]:
    return await GenerationRepository(session).list_predictions(
        scope.condition(Prediction.owner_id, Prediction.organization_id),
        generation_id=generation_id,
        status=status,
        skip=skip,
        limit=limit,
    )


async def select_prediction(
    session: AsyncSession, scope: OwnerScope, prediction_id: uuid.UUID
) -> Prediction:
    prediction = await get_prediction(session, scope, prediction_id)
    if prediction.status != PredictionStatus.COMPLETED:
        raise Conflict(
            f"Only a completed prediction can be selected (this one is {prediction.status})"
        )
    repo = GenerationRepository(session)
    # Locks the generation first, as every writer of its predictions does (see delete).
    if not await repo.lock_generation(prediction.generation_id, utcnow()):
        raise NotFound(PREDICTION_NOT_FOUND)
    await repo.select_prediction(prediction)
    await session.commit()
    await session.refresh(prediction)
    return prediction


async def replay_prediction(
    session: AsyncSession, scope: OwnerScope, prediction_id: uuid.UUID, runtime: GenerationRuntime
) -> tuple[Generation, list[Prediction]]:
    """A new generation with one prediction, run from the prediction's manifest: its prompt,
    negative prompt, seed, size, LoRAs and scene, each step pinned to the model and provider
    that served it (no fallback: another provider would not reproduce the image), and the
    same input images (checked by sha256 before anything runs)."""
    source = await get_prediction(session, scope, prediction_id)
    manifest = source.manifest
    if source.status != PredictionStatus.COMPLETED or not manifest:
        raise Conflict(f"Only a completed prediction can be replayed (this one is {source.status})")
    original = await get_visible(session, scope, source.generation_id)
    plan = [
        {
            "name": step["name"],
            "task": step["task"],
            "model_id": step.get("model_id"),
            "model_name": step.get("model_name"),
            "provider": step["provider"],
            "config": step.get("config") or {},
            "fallback_provider": None,
            "fallback_config": None,
            "limits": step.get("limits"),
        }
        for step in manifest["pipeline"]
    ]
    inputs = {key: value for key, value in original.inputs.items() if key != "agentic"}
    inputs |= dict(manifest.get("scene") or {})
    inputs |= {
        "loras": list(manifest.get("loras") or []),
        "reference_image_strength": manifest.get("reference_image_strength"),
        "expected_input_sha256": [image["sha256"] for image in manifest["input_images"]],
    }
    replay = {"replay_of": str(source.id)}
    generation = Generation(
        owner_id=scope.user_id,
        organization_id=scope.organization_id,
        generative_model_id=original.generative_model_id,
        generation_type=GenerationType.BASE,
        generation_strategy=original.generation_strategy,
        tool=original.tool,
        status=GenerationStatus.PENDING,
        subject_id=original.subject_id,
        product_id=original.product_id,
        product2_id=original.product2_id,
        style_id=original.style_id,
        shot_type_id=original.shot_type_id,
        pose_preset_id=original.pose_preset_id,
        batch_size=1,
        width=manifest["width"],
        height=manifest["height"],
        steps=manifest["steps"],
        seed=manifest["seed"],
        refine=original.refine,
        scale_factor=manifest.get("scale_factor"),
        target_width=manifest.get("target_width"),
        target_height=manifest.get("target_height"),
        auto_generate_prompt=False,
        prompt=manifest["prompt"],
        original_prompt=manifest.get("original_prompt"),
        negative_prompt=manifest.get("negative_prompt"),
        prompt_source=manifest.get("prompt_source"),
        prompt_trace=manifest.get("prompt_trace"),
        request=replay,
        inputs=inputs,
        plan=plan,
        config=replay,
    )
    return await _start(session, runtime, generation, [int(manifest["seed"])])


# --- responses -----------------------------------------------------------------------------


def prediction_public(prediction: Prediction, api_prefix: str) -> dict[str, Any]:
    # Rows read back hold enum values as plain strings: the response model re-validates them.
    data = prediction.model_dump(
        warnings=False,
        exclude={
            "owner_id",
            "organization_id",
            "result_image_key",
            "lease_token",
            "lease_owner",
            "lease_expires_at",
            "enqueued_at",
        },
    )
    is_video = (prediction.result_mime_type or "").startswith("video/")
    url = f"{api_prefix}/predictions/{prediction.id}/image" if prediction.result_image_key else None
    data["result_image_url"] = None if is_video else url
    data["result_video_url"] = url if is_video else None
    return data


def generation_public(
    generation: Generation, predictions: list[Prediction], api_prefix: str
) -> dict[str, Any]:
    data = generation.model_dump(
        warnings=False, exclude={"request", "inputs", "prompt_trace", "generative_model_id"}
    )
    data["generative_models_id"] = generation.generative_model_id
    data["plan"] = [
        {
            k: step.get(k)
            for k in ("name", "task", "model_id", "model_name", "provider", "fallback_provider")
        }
        for step in generation.plan
    ]
    data["predictions"] = [prediction_public(p, api_prefix) for p in predictions]
    return data

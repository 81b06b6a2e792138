"""`POST /prompts/generate`: structured, completion, inventive, contextual and
image-editing-prompt modes.

With an `ai_core` model configured, each result is one LLM call (seeded `seed + i`). Without
one, or when it fails, a deterministic generator answers: it draws from fashion word pools
with a RNG keyed on (seed, mode, spark, images, result index), so the same seed and input
give the same results while different results of one request differ. `temperature` widens
how much is added, `top_p` keeps the conventional head of each pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.errors import AppError, InvalidInput
from app.imaging.analysis import SceneAnalysis, analyse_scene
from app.imaging.loading import LoadedImage, load_image
from app.models.prompt import PromptGenerateRequest, PromptGenerateResponse
from app.models.prompt import PromptGenerationMode as Mode
from app.prompts import vocabulary as V
from app.prompts.ip import strip_ip
from app.prompts.llm import ask, release_connection, text_model
from app.providers.base import InputImage
from app.providers.enums import GenerationTool
from app.services import system_prompts

DEFAULT_TEMPERATURE = 1.0
MODE_INSTRUCTIONS = {
    Mode.STRUCTURED: (
        "Write one structured fashion image prompt with the labelled parts Subject, Outfit, "
        "Setting, Lighting, Camera and Mood, built around the spark if one is given."
    ),
    Mode.COMPLETION: (
        "Continue the spark into one complete image prompt: keep the spark verbatim at the "
        "start and add concrete visual details."
    ),
    Mode.INVENTIVE: (
        "Invent one original, surprising fashion image prompt loosely inspired by the spark."
    ),
    Mode.CONTEXTUAL: (
        "Write one image prompt that continues the look of the context images (described "
        "below or attached), following the spark if one is given."
    ),
    Mode.IMAGE_EDITING_PROMPT: (
        "Write one instruction for an image-editing model to apply to the attached image, "
        "following the spark if one is given; say what must stay unchanged."
    ),
}


@dataclass
class _Inputs:
    spark: str
    scenes: list[SceneAnalysis]
    images: list[LoadedImage]


class _Draw:
    """Seeded choices honouring `top_p` (pool head) and `temperature` (amount of detail)."""

    def __init__(self, rng: random.Random, top_p: float) -> None:
        self.rng, self.top_p = rng, top_p

    def pick(self, pool: Sequence[str]) -> str:
        head = pool[: max(1, math.ceil(len(pool) * self.top_p))]
        return self.rng.choice(head)


def _find(spark: str, pool: Sequence[str]) -> str | None:
    lowered = spark.lower()
    return next((item for item in sorted(pool, key=len, reverse=True) if item in lowered), None)


def _describe_scene(scene: SceneAnalysis) -> str:
    colours = ", ".join(c.name for c in scene.colours[:3]) or "neutral"
    return (
        f"{scene.orientation} {scene.framing} photo with a {scene.brightness} palette of {colours}"
    )


def _structured(inputs: _Inputs, draw: _Draw, temperature: float) -> str:
    spark = inputs.spark
    outfit = " ".join(
        [
            _find(spark, V.COLOURS) or draw.pick(V.COLOURS),
            _find(spark, V.FABRICS) or draw.pick(V.FABRICS),
            _find(spark, V.GARMENTS) or draw.pick(V.GARMENTS),
        ]
    )
    parts = [f"Concept: {spark}"] if spark else []
    parts += [
        f"Subject: {draw.pick(V.SUBJECTS)}, {draw.pick(V.POSES)}",
        f"Outfit: {outfit}",
        f"Setting: {_find(spark, V.SETTINGS) or draw.pick(V.SETTINGS)}",
        f"Lighting: {draw.pick(V.LIGHTING)}",
        f"Camera: {draw.pick(V.CAMERA)}",
        f"Mood: {draw.pick(V.MOODS)}",
    ]
    if temperature > 1.2:
        parts.append(f"Style: {draw.pick(V.STYLES)}")
    return ". ".join(parts) + "."


def _details(draw: _Draw, temperature: float, pools: Sequence[Sequence[str]]) -> list[str]:
    count = min(len(pools), 1 + round(temperature * 2))
    chosen = draw.rng.sample(list(pools), count)
    return [draw.pick(pool) for pool in chosen]


def _completion(inputs: _Inputs, draw: _Draw, temperature: float) -> str:
    pools = [V.SETTINGS, V.LIGHTING, V.CAMERA, V.MOODS, V.POSES, V.STYLES]
    return ", ".join([inputs.spark.rstrip(" ,."), *_details(draw, temperature, pools)])


def _inventive(inputs: _Inputs, draw: _Draw, temperature: float) -> str:
    garment = f"{draw.pick(V.COLOURS)} {draw.pick(V.FABRICS)} {draw.pick(V.GARMENTS)}"
    text = (
        f"{draw.pick(V.SUBJECTS)} in a {garment} {draw.pick(V.TWISTS)}, "
        f"in {draw.pick(V.SETTINGS)}, {draw.pick(V.LIGHTING)}, {draw.pick(V.STYLES)}"
    )
    if temperature >= 1.5:
        text += f", {draw.pick(V.TWISTS)}"
    return f"{text}, inspired by {inputs.spark}" if inputs.spark else text


def _contextual(inputs: _Inputs, draw: _Draw, temperature: float) -> str:
    context = "; ".join("a " + _describe_scene(scene) for scene in inputs.scenes)
    main = inputs.spark or (
        f"{draw.pick(V.SUBJECTS)} wearing a {draw.pick(V.COLOURS)} {draw.pick(V.GARMENTS)}"
    )
    details = _details(draw, temperature, [V.LIGHTING, V.CAMERA, V.MOODS, V.POSES])
    return ", ".join([main, f"matching the look of {context}", *details])


def _image_editing(inputs: _Inputs, draw: _Draw, temperature: float) -> str:
    scene = inputs.scenes[0]
    edit = inputs.spark.rstrip(". ") if inputs.spark else draw.pick(V.EDITS)
    keep = "the person's face, pose and body proportions, the garment's shape and the framing"
    text = f"Edit this {_describe_scene(scene)}: {edit}. Keep {keep} unchanged"
    if temperature > 1.0:
        text += f"; finish with {draw.pick(V.LIGHTING)}"
    return text + "."


GENERATORS: dict[Mode, Callable[[_Inputs, _Draw, float], str]] = {
    Mode.STRUCTURED: _structured,
    Mode.COMPLETION: _completion,
    Mode.INVENTIVE: _inventive,
    Mode.CONTEXTUAL: _contextual,
    Mode.IMAGE_EDITING_PROMPT: _image_editing,
}


def _rng(seed: int, request: PromptGenerateRequest, inputs: _Inputs, key: str) -> random.Random:
    digests = ",".join(hashlib.sha256(image.data).hexdigest() for image in inputs.images)
    material = f"{seed}|{request.mode}|{inputs.spark}|{digests}|{key}"
    return random.Random(hashlib.sha256(material.encode()).digest())  # noqa: S311 - not crypto


def deterministic(request: PromptGenerateRequest, inputs: _Inputs, seed: int) -> list[str]:
    temperature = DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
    top_p = 1.0 if request.top_p is None else max(request.top_p, 0.05)
    generate = GENERATORS[request.mode]
    results: list[str] = []
    for index in range(request.num_results):
        text = ""
        # A small pool (low top_p) may repeat a draw; re-draw a few times for distinct results.
        for attempt in range(8):
            draw = _Draw(_rng(seed, request, inputs, f"{index}:{attempt}"), top_p)
            text = generate(inputs, draw, temperature)
            if text not in results:
                break
        results.append(text)
    return results


def _validate(request: PromptGenerateRequest) -> str:
    spark = " ".join((request.prompt or "").split())
    if request.mode == Mode.COMPLETION and not spark:
        raise InvalidInput.field(["body", "prompt"], "is required in completion mode")
    if request.mode == Mode.IMAGE_EDITING_PROMPT and not request.image:
        raise InvalidInput.field(["body", "image"], "is required in image-editing-prompt mode")
    if request.mode == Mode.CONTEXTUAL and not request.images:
        raise InvalidInput.field(
            ["body", "images"], "at least one image is required in contextual mode"
        )
    for index, source in enumerate(request.images):
        if source.startswith("asset_"):
            raise InvalidInput.field(
                ["body", "images", index],
                "asset ids are not stored by this server; send a data URL or an image URL",
                source,
            )
    return spark


async def _load(source: str, settings: Settings, field: list[str | int]) -> LoadedImage:
    try:
        return await load_image(source, settings)
    except AppError as exc:
        where = ".".join(str(part) for part in field)
        raise type(exc)(f"{where}: {exc.detail}") from exc


def _scene(image: LoadedImage) -> SceneAnalysis:
    return analyse_scene(image.open())


async def _inputs(request: PromptGenerateRequest, settings: Settings, spark: str) -> _Inputs:
    sources: list[tuple[str, list[str | int]]] = []
    if request.mode == Mode.IMAGE_EDITING_PROMPT and request.image:
        sources.append((request.image, ["image"]))
    if request.mode in (Mode.CONTEXTUAL, Mode.IMAGE_EDITING_PROMPT):
        sources += [(src, ["images", i]) for i, src in enumerate(request.images)]
    images = list(await asyncio.gather(*(_load(s, settings, f) for s, f in sources)))
    scenes = [await asyncio.to_thread(_scene, image) for image in images]
    return _Inputs(spark, scenes, images)


async def generate_prompts(
    session: AsyncSession, settings: Settings, request: PromptGenerateRequest
) -> PromptGenerateResponse:
    spark = _validate(request)
    if request.ensure_ip_removal:
        spark = strip_ip(spark)
    inputs = await _inputs(request, settings, spark)
    seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
    llm_error = None
    prompts: list[str] | None = None
    needs_vision = request.mode == Mode.IMAGE_EDITING_PROMPT
    model = await text_model(
        session, settings, GenerationTool.PROMPT_GENERATION, vision=needs_vision
    )
    if model is not None:
        system = (await system_prompts.texts(session, system_prompts.PROMPT_GENERATION))[
            system_prompts.PROMPT_GENERATION
        ]
        message = MODE_INSTRUCTIONS[request.mode]
        if request.ensure_ip_removal:
            message += " Do not mention any brand, logo or trademark."
        if spark:
            message += f"\n\nSpark: {spark}"
        if inputs.scenes:
            context = "; ".join("a " + _describe_scene(scene) for scene in inputs.scenes)
            message += f"\n\nImages: {context}"
        attached = [InputImage(im.data, im.mime_type, "reference") for im in inputs.images]
        await release_connection(session)
        answers = await asyncio.gather(
            *(
                ask(
                    model,
                    settings,
                    system=system,
                    prompt=message,
                    images=attached if needs_vision else None,
                    temperature=request.temperature,
                    top_p=request.top_p,
                    seed=(seed + index) % 2**32,
                )
                for index in range(request.num_results)
            )
        )
        failed = next((a.error for a in answers if a.text is None), None)
        if failed is None:
            prompts = [a.text for a in answers if a.text is not None]
        else:
            llm_error = failed
    source = "llm"
    if prompts is None:
        source = "deterministic"
        prompts = deterministic(request, inputs, seed)
    if request.ensure_ip_removal:
        prompts = [strip_ip(p) for p in prompts]
    return PromptGenerateResponse(
        mode=request.mode, prompts=prompts, source=source, seed=seed, llm_error=llm_error
    )

"""Garment-placement editing prompts (`/prompts/create-editing-prompt`).

With a vision-capable `ai_core` model, both images go to the LLM with the stored `editing`
system prompt. Otherwise (or when it fails) a local analyser reads the reference garment
(dominant colours in words, pattern vs solid, light/dark) and the base image (orientation,
framing) and fills the garment-placement template.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.errors import AppError
from app.imaging.analysis import GarmentAnalysis, SceneAnalysis, analyse_garment, analyse_scene
from app.imaging.loading import LoadedImage, load_image
from app.prompts.llm import ask, release_connection, text_model
from app.providers.base import InputImage
from app.providers.enums import GenerationTool
from app.services import system_prompts

LLM_REQUEST = (
    "Image 1 is the base image: a person wearing a garment. Image 2 is the reference garment. "
    "Write the editing instruction that puts the reference garment on the person in image 1."
)


def garment_placement_prompt(garment: GarmentAnalysis, scene: SceneAnalysis) -> str:
    secondary = garment.colours[1:]
    main = garment.colours[0].name if garment.colours else "neutral"
    if garment.patterned:
        colours = garment.colour_words
        look = f"a patterned {garment.brightness} garment in {colours}"
        detail = "its pattern, print scale and placement"
    else:
        look = f"a solid {main} garment ({garment.brightness})"
        if secondary:
            look += " with " + " and ".join(c.name for c in secondary[:2]) + " details"
        detail = "its exact colour and fabric finish"
    return (
        f"Replace the garment worn by the person in this {scene.orientation} "
        f"{scene.framing} photo with the reference garment: {look}. Reproduce {detail}, and "
        "the reference's cut, neckline, sleeves, length and trims. Fit it naturally to the "
        "person's body and pose with realistic folds, shadows and lighting matching the "
        f"{scene.brightness} scene. Keep the person's face, hair, skin, hands, pose, the "
        "background and the lighting unchanged."
    )


async def _load(source: str, field: str, settings: Settings) -> LoadedImage:
    try:
        return await load_image(source, settings)
    except AppError as exc:
        raise type(exc)(f"{field}: {exc.detail}") from exc


def _analyse(base: LoadedImage, reference: LoadedImage) -> tuple[GarmentAnalysis, SceneAnalysis]:
    return analyse_garment(reference.open()), analyse_scene(base.open())


async def create_editing_prompt(
    session: AsyncSession, settings: Settings, base_image: str, reference_image: str
) -> dict[str, Any]:
    base, reference = await asyncio.gather(
        _load(base_image, "base_image", settings),
        _load(reference_image, "reference_image", settings),
    )
    garment, scene = await asyncio.to_thread(_analyse, base, reference)
    analysis = {"reference": garment.as_dict(), "base": scene.as_dict()}
    llm_error = None
    model = await text_model(session, settings, GenerationTool.PROMPT_GENERATION, vision=True)
    if model is not None:
        system = (await system_prompts.texts(session, system_prompts.EDITING))[
            system_prompts.EDITING
        ]
        await release_connection(session)
        answer = await ask(
            model,
            settings,
            system=system,
            prompt=LLM_REQUEST,
            images=[
                InputImage(base.data, base.mime_type, "base"),
                InputImage(reference.data, reference.mime_type, "reference"),
            ],
        )
        if answer.text is not None:
            return {"prompt": answer.text, "source": "llm", "analysis": analysis}
        llm_error = answer.error
    return {
        "prompt": garment_placement_prompt(garment, scene),
        "source": "analysis",
        "analysis": analysis,
        "llm_error": llm_error,
    }

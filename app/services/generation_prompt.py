"""The prompt step of a generation: what the providers are asked for, resolved once at creation.

It returns the final prompt, the original one, LoRAs, and the scene inputs the renderers use
(image URLs, background, tone, framing). Kept behind this one function so the prompt-builder
chain plugs in here without touching the rest of the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.models.generation import GenerationCreate
from app.providers.base import LoraSpec
from app.services.tenancy import OwnerScope


@dataclass
class ResolvedPrompt:
    prompt: str
    original_prompt: str | None
    negative_prompt: str | None
    source: str
    loras: list[LoraSpec] = field(default_factory=list)
    trace: list[Any] = field(default_factory=list)
    # Scene inputs for the providers: product/product2/subject image URLs, background, tone,
    # framing, view angle, lighting, pose.
    inputs: dict[str, Any] = field(default_factory=dict)


def _join(parts: list[str | None]) -> str:
    return ", ".join(part.strip() for part in parts if part and part.strip())


def _request_inputs(data: GenerationCreate) -> dict[str, Any]:
    return {
        "product_image": data.product_image,
        "product2_image": data.product2_image,
        "subject_image": None,
        "background": data.background,
        "tone": data.tone,
        "framing": data.framing or data.shot_type or data.shot_type_string,
        "view_angle": data.perspective,
        "lighting": data.lighting,
        "pose": data.pose,
    }


def _compose(data: GenerationCreate) -> str:
    subject = _join([data.subject_lora_trigger, data.subject_description]) or "a fashion model"
    garments = _join([data.product_description, data.product2_description])
    scene = _join(
        [
            data.shot_type_string or data.shot_type or data.framing,
            data.perspective,
            data.pose,
            f"{data.background} background" if data.background else None,
            f"{data.lighting} lighting" if data.lighting else None,
            f"{data.tone} tone" if data.tone else None,
            data.style_description,
        ]
    )
    sentence = f"Fashion e-commerce photo of {subject}"
    if garments:
        sentence += f" wearing {garments}"
    if scene:
        sentence += f", {scene}"
    return _join([sentence, data.extra_prompt])


def _loras(data: GenerationCreate) -> list[LoraSpec]:
    loras = []
    for kind in ("subject", "product", "product2", "style"):
        slug = getattr(data, f"{kind}_slug")
        if getattr(data, f"{kind}_lora_enabled") and slug:
            loras.append(
                LoraSpec(
                    kind=kind,
                    path=slug,
                    scale=getattr(data, f"{kind}_lora_weight"),
                    trigger=getattr(data, f"{kind}_lora_trigger"),
                )
            )
    return loras


async def resolve_prompt(
    session: AsyncSession, scope: OwnerScope, data: GenerationCreate, *, settings: Settings
) -> ResolvedPrompt:
    inputs = _request_inputs(data)
    if not data.auto_generate_prompt and data.generated_prompt:
        # The caller's prompt is used unchanged.
        return ResolvedPrompt(
            prompt=data.generated_prompt,
            original_prompt=data.generated_prompt,
            negative_prompt=data.negative_prompt,
            source="request",
            loras=_loras(data),
            inputs=inputs,
        )
    composed = _compose(data)
    return ResolvedPrompt(
        prompt=composed,
        original_prompt=data.generated_prompt or composed,
        negative_prompt=data.negative_prompt,
        source="request_fields",
        loras=_loras(data),
        trace=[{"step": "compose", "from": "request fields"}],
        inputs=inputs,
    )

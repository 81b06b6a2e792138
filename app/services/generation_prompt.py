"""The prompt step of a generation, resolved once at creation through the prompt-builder chain.

It returns the final prompt, the original one (before any enhancement, or the caller's own
`generated_prompt`, used unchanged when `auto_generate_prompt` is false), LoRAs, the trace,
and the scene inputs the providers use: image URLs (product, second product, subject cover),
background, tone, framing and view angle of the shot type, the shooting look's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.models.generation import GenerationCreate
from app.prompts.service import build_generation_prompt
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
    inputs: dict[str, Any] = field(default_factory=dict)
    # The shooting look's resolution, the default output size when the request names none.
    resolution: tuple[int, int] | None = None


async def resolve_prompt(
    session: AsyncSession, scope: OwnerScope, data: GenerationCreate, *, settings: Settings
) -> ResolvedPrompt:
    built = await build_generation_prompt(session, scope, data, settings=settings)
    ctx = built.context
    inputs = {
        # An image given in the request wins over the catalogue's.
        "product_image": data.product_image or ctx.product_image_url("product"),
        "product2_image": data.product2_image or ctx.product_image_url("product2"),
        "subject_image": ctx.subject_image_url,
        "background": ctx.effective_background,
        "tone": ctx.effective_tone,
        "framing": ctx.effective_framing,
        "view_angle": ctx.effective_view_angle,
        "lighting": ctx.effective_lighting,
        "pose": data.pose,
        "product_family": ctx.product_family,
        "shot_type": ctx.shot_type.slug if ctx.shot_type is not None else None,
    }
    return ResolvedPrompt(
        prompt=built.prompt,
        original_prompt=built.original_prompt,
        negative_prompt=built.negative_prompt or None,
        source=built.source,
        loras=list(built.loras),
        trace=[entry.as_dict() for entry in built.trace],
        inputs=inputs,
        resolution=ctx.resolution,
    )

"""LLM enhancement of the chain's prompt, guided by a template (the `002` enhancement set).

The original prompt is always kept next to the enhanced one; without an LLM, or when it
fails or times out, the chain's prompt stands and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.config import Settings
from app.core.errors import InvalidInput
from app.prompts.llm import TextModel, ask

DEFAULT_TEMPLATE = "general"
TEMPLATES: dict[str, str] = {
    "general": "Balanced enhancement: clarify the subject, add composition and lighting detail.",
    "photorealistic": (
        "Photorealistic photography: add camera and lens details, aperture, lighting setup, "
        "depth of field and true-to-life textures."
    ),
    "illustration": "Illustration: describe the art style, composition and colour palette.",
    "minimalist": "Minimalist: keep only the essential elements, clean and simple composition.",
    "sticker": "Sticker: bold outlines, limited colours, flat vector style, plain background.",
    "product": (
        "Product photography: studio lighting, materials and finish, e-commerce framing, "
        "optional lifestyle context."
    ),
    "comic": "Comic: action lines, expressive faces, dynamic panel composition, inked style.",
}
TEMPLATE_CONFIG_KEY = "enhancement_template"


def template_from_config(config: dict[str, Any] | None) -> str:
    """The template named in `GenerationCreate.config`, defaulting to `general`."""
    value = (config or {}).get(TEMPLATE_CONFIG_KEY, DEFAULT_TEMPLATE)
    if not isinstance(value, str) or value not in TEMPLATES:
        raise InvalidInput.field(
            ["body", "config", TEMPLATE_CONFIG_KEY],
            f"must be one of: {', '.join(TEMPLATES)}",
            value,
        )
    return value


@dataclass
class Enhancement:
    prompt: str | None  # None: not enhanced (see `error`)
    template: str
    error: str | None = None


def enhancement_request(prompt: str, template: str) -> str:
    return (
        f"Enhancement template: {template}. {TEMPLATES[template]}\n\nPrompt to enhance:\n{prompt}"
    )


async def enhance(
    model: TextModel, settings: Settings, *, system: str, prompt: str, template: str
) -> Enhancement:
    answer = await ask(model, settings, system=system, prompt=enhancement_request(prompt, template))
    return Enhancement(answer.text, template, answer.error)

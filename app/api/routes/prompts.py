from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import (
    CurrentPrincipal,
    OrganizationIdQuery,
    OwnerScopeDep,
    SessionDep,
    SettingsDep,
)
from app.models.generation import GenerationCreate
from app.models.prompt import ComposedPromptResponse, PromptContextRequest
from app.prompts import service

router = APIRouter(prefix="/prompts", tags=["prompts"])

_TRACE_EXAMPLE = [
    {
        "builder": "base_system_prompt",
        "fragment": "professional fashion e-commerce photograph",
        "target": "prompt",
    },
    {
        "builder": "subject",
        "fragment": "ohwx young woman, auburn hair, freckles",
        "target": "prompt",
    },
    {"builder": "products", "fragment": "wearing women's white linen shirt", "target": "prompt"},
    {
        "builder": "shot_type",
        "fragment": "full body shot from head to toe, front view",
        "target": "prompt",
    },
    {"builder": "base_system_prompt", "fragment": "blurry, low quality", "target": "negative"},
]
_LORA_EXAMPLE = [
    {
        "kind": "subject",
        "path": "https://example.com/loras/ava.safetensors",
        "weight": 1.0,
        "trigger": "ohwx",
    }
]
CREATE_FOR_GENERATION_EXAMPLE = {
    "prompts": {
        "full-body-front": {
            "prompt": (
                "professional fashion e-commerce photograph, ohwx young woman, auburn hair, "
                "freckles, wearing women's white linen shirt, full body shot from head to toe, "
                "front view"
            ),
            "original_prompt": (
                "professional fashion e-commerce photograph, ohwx young woman, auburn hair, "
                "freckles, wearing women's white linen shirt, full body shot from head to toe, "
                "front view"
            ),
            "negative_prompt": "blurry, low quality",
            "source": "chain",
            "template": None,
            "enhancement_error": None,
            "shot_type": {
                "id": "9a4a3a43-51e6-4a52-a3f1-0e5a8f7f3a10",
                "slug": "full-body-front",
                "name": "Full Body Front",
                "framing": "Full Body",
                "view_angle": "Front",
            },
            "loras": _LORA_EXAMPLE,
            "trace": _TRACE_EXAMPLE,
        }
    },
    "shot_types": ["full-body-front"],
    "loras": _LORA_EXAMPLE,
}


@router.post(
    "/create-for-generation",
    summary="Create Prompt For Generation",
    responses={
        200: {
            "description": (
                "One entry per requested shot type (keyed by its slug, or `default` when none "
                "was requested): the final `prompt`, the `original_prompt` before any LLM "
                "enhancement, the `negative_prompt`, which path produced it (`source`: chain, "
                "llm or user), the LoRAs that apply and the builder trace."
            ),
            "content": {
                "application/json": {
                    "schema": {
                        "additionalProperties": True,
                        "type": "object",
                        "title": "Response Create Prompt For Generation",
                    },
                    "example": CREATE_FOR_GENERATION_EXAMPLE,
                }
            },
        }
    },
    response_model=None,
)
async def create_prompt_for_generation(
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    generation_data: GenerationCreate,
    organization_id: OrganizationIdQuery = None,
) -> Any:
    """Generate an optimized prompt directly from GenerationCreate data.

    Entity ids and slugs are resolved (descriptions filled in when missing) and the builder
    chain runs once per requested shot type. `auto_generate_prompt: false` with a
    `generated_prompt` returns that prompt unchanged."""
    scope = await service.resolve_request_scope(
        session, principal, organization_id, generation_data.organization_id
    )
    built = await service.create_for_generation(session, scope, generation_data, settings=settings)
    first = next(iter(built.values()))
    return {
        "prompts": {key: value.as_dict() for key, value in built.items()},
        "shot_types": list(built),
        "loras": [service.lora_dict(spec) for spec in first.loras],
    }


@router.post("/compose", summary="Compose Prompt")
async def compose_prompt(
    session: SessionDep, scope: OwnerScopeDep, request: PromptContextRequest
) -> ComposedPromptResponse:
    """Compose a prompt by running the base system prompt through the builder pipeline.

    Accepts optional entity IDs (shot_type_id, pose_id, etc.) in the request body. Each ID is
    resolved to its model and passed to the ordered builder chain."""
    built = await service.compose(session, scope, request)
    return ComposedPromptResponse(prompt=built.prompt)

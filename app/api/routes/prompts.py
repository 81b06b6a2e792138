from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from app.api.deps import (
    CurrentPrincipal,
    CurrentUser,
    OrganizationIdQuery,
    OwnerScopeDep,
    SessionDep,
    SettingsDep,
    get_database,
)
from app.api.responses import OrjsonResponse
from app.models.generation import GenerationCreate
from app.models.prompt import (
    ComposedPromptResponse,
    CreateEditingPromptRequest,
    PromptContextRequest,
    PromptGenerateRequest,
    PromptGenerateResponse,
)
from app.prompts import editing, generator, service

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
    request: Request,
    principal: CurrentPrincipal,
    generation_data: GenerationCreate,
    organization_id: OrganizationIdQuery = None,
) -> Any:
    """Generate an optimized prompt directly from GenerationCreate data.

    This endpoint takes a GenerationCreate instance and enriches it with data from the database if entity IDs are provided but descriptions are missing. It then builds a prompt for it.

    Args: session: The database session current_user: The current authenticated user generation_data: A GenerationCreate instance with prompt data prompt_builder: The prompt builder instance

    Returns: A dictionary with AI-crafted prompts for the specified shot type(s)
    """
    # Read-only: no session dependency (see `service.create_for_generation`), and the
    # database and settings are read off the app rather than declared as dependencies,
    # each of which costs a walk of FastAPI's solver per request.
    state = request.app.state
    scope = await service.resolve_request_scope(
        state.db, principal, organization_id, generation_data.organization_id
    )
    built = await service.create_for_generation(
        state.db, scope, generation_data, settings=state.settings
    )
    first = next(iter(built.values()))
    # Plain JSON types only: orjson skips FastAPI's generic (and slow) encoder.
    return OrjsonResponse(
        {
            "prompts": {key: value.as_dict() for key, value in built.items()},
            "shot_types": list(built),
            "loras": [service.lora_dict(spec) for spec in first.loras],
        }
    )


@router.post("/compose", summary="Compose Prompt", response_model=ComposedPromptResponse)
async def compose_prompt(
    http_request: Request, scope: OwnerScopeDep, request: PromptContextRequest
) -> Response:
    """Compose a prompt by running the base system prompt through the builder pipeline.

    Accepts optional entity IDs (shot_type_id, pose_id, etc.) in the request body. Each ID is
    resolved to its model and passed to the ordered builder chain."""
    # No session dependency: compose reads without one (see `service.compose`), and a
    # session's creation and its generator dependency cost more than the request's queries.
    built = await service.compose(get_database(http_request), scope, request)
    # The response model documents the shape; orjson writes it without validating it again.
    return OrjsonResponse({"prompt": built.prompt})


EDITING_EXAMPLE = {
    "prompt": (
        "Replace the garment worn by the person in this portrait full-length photo with the "
        "reference garment: a solid navy garment (dark). Reproduce its exact colour and fabric "
        "finish, ... Keep the person's face, hair, skin, hands, pose, the background and the "
        "lighting unchanged."
    ),
    "source": "analysis",
    "analysis": {
        "reference": {
            "colours": [{"name": "navy", "share": 0.91}],
            "pattern": "solid",
            "brightness": "dark",
        },
        "base": {
            "width": 832,
            "height": 1216,
            "orientation": "portrait",
            "framing": "full-length",
            "brightness": "light",
            "colours": [{"name": "white", "share": 0.62}],
        },
    },
    "llm_error": None,
}


@router.post(
    "/create-editing-prompt",
    summary="Create Editing Prompt",
    response_model=None,
    responses={
        200: {
            "description": (
                "The garment-placement `prompt`, which path produced it (`source`: llm with a "
                "vision-capable ai_core model, or analysis) and the local image analysis."
            ),
            "content": {
                "application/json": {
                    "schema": {
                        "additionalProperties": True,
                        "type": "object",
                        "title": "Response Create Editing Prompt",
                    },
                    "example": EDITING_EXAMPLE,
                }
            },
        }
    },
)
async def create_editing_prompt(
    session: SessionDep, _: CurrentUser, settings: SettingsDep, request: CreateEditingPromptRequest
) -> Any:
    """Generate an optimized prompt for garment placement strategy (editing) generations.

    It analyzes a base image (model wearing a garment) and a reference image (garment to be
    placed): with a vision-capable `ai_core` generation model both images go to that LLM;
    otherwise a local analyser (reference colours in words, pattern vs solid, light/dark;
    base orientation and framing) fills a garment-placement template. `source` says which.

    The images can be provided in multiple formats: - Base64 data URLs (e.g., "data:image/jpeg;base64,...") - HTTP/HTTPS URLs - Local file paths (relative to DATA_FILES_DIR or absolute, inside it)

    Returns: A dictionary containing the generated prompt for garment placement
    """
    return await editing.create_editing_prompt(
        session, settings, request.base_image, request.reference_image
    )


@router.post("/generate", summary="Generate Prompts")
async def generate_prompts(
    session: SessionDep, _: CurrentUser, settings: SettingsDep, request: PromptGenerateRequest
) -> PromptGenerateResponse:
    """Generate, complete or invent new prompts (modes structured, completion, inventive,
    contextual, image-editing-prompt)."""
    return await generator.generate_prompts(session, settings, request)

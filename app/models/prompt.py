"""Request/response schemas of /api/v1/prompts (names and fields per the contract)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlmodel import Field, SQLModel

MAX_GENERATE_IMAGES = 4


class PromptContextRequest(SQLModel):
    """Request schema mirroring PromptContext fields as optional IDs.

    When new fields are added to PromptContext, add the corresponding
    ID field here and update the resolver in deps.py."""

    shot_type_id: uuid.UUID | None = None
    pose_id: uuid.UUID | None = None
    shooting_look_id: uuid.UUID | None = None


class ComposedPromptResponse(SQLModel):
    prompt: str


class PromptGenerationMode(StrEnum):
    STRUCTURED = "structured"
    COMPLETION = "completion"
    INVENTIVE = "inventive"
    CONTEXTUAL = "contextual"
    IMAGE_EDITING_PROMPT = "image-editing-prompt"


class PromptGenerateRequest(SQLModel):
    """Generate, complete or invent new prompts."""

    mode: PromptGenerationMode = Field(
        default=PromptGenerationMode.STRUCTURED,
        description="The mode used to generate new prompt(s).",
    )
    prompt: str | None = Field(
        default=None,
        max_length=4000,
        description="The initial prompt spark feed to completion, inventive or structured modes.",
    )
    image: str | None = Field(
        default=None,
        description="The input image (data URL, http(s) URL or path under DATA_FILES_DIR). "
        "Required when mode is image-editing-prompt.",
    )
    images: list[str] = Field(
        default_factory=list,
        max_length=MAX_GENERATE_IMAGES,
        description="Images used to condition the generation; in contextual mode their "
        "descriptions are the context.",
    )
    num_results: int = Field(default=1, ge=1, le=5, description="The number of results.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description="Same seed and same input give the same results on the deterministic path.",
    )
    ensure_ip_removal: bool = Field(
        default=False, description="Strip brand names and trademarks from the results."
    )


class PromptGenerateResponse(SQLModel):
    mode: PromptGenerationMode
    prompts: list[str]
    source: str = Field(description="llm, or deterministic (no LLM configured, or it failed)")
    seed: int = Field(description="The seed used; send it back to reproduce the results")
    llm_error: str | None = None


class CreateEditingPromptRequest(SQLModel):
    """Request model for the /create-editing-prompt endpoint.

    This model defines the parameters for generating editing prompts for garment placement strategy."""

    base_image: str = Field(
        description="Base image (model wearing garment) - can be base64 data URL, HTTP URL, or local path"
    )
    reference_image: str = Field(
        description="Reference garment image - can be base64 data URL, HTTP URL, or local path"
    )

"""Request/response schemas of /api/v1/prompts (names and fields per the contract)."""

from __future__ import annotations

import uuid

from sqlmodel import SQLModel


class PromptContextRequest(SQLModel):
    """Request schema mirroring PromptContext fields as optional IDs.

    When new fields are added to PromptContext, add the corresponding
    ID field here and update the resolver in deps.py."""

    shot_type_id: uuid.UUID | None = None
    pose_id: uuid.UUID | None = None
    shooting_look_id: uuid.UUID | None = None


class ComposedPromptResponse(SQLModel):
    prompt: str

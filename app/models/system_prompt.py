"""System prompts: the texts the prompt builders and the LLM start from, editable at runtime."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, updated_at_field, uuid_pk

PROMPT_TYPE_PATTERN = r"^[a-z0-9_]{1,64}$"


class SystemPrompt(SQLModel, table=True):
    __tablename__ = "system_prompt"

    id: uuid.UUID = uuid_pk()
    prompt_type: str = Field(max_length=64, unique=True, index=True)
    prompt: str
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class SystemPromptPublic(SQLModel):
    prompt_type: str
    prompt: str


class SystemPromptsPublic(SQLModel):
    data: list[SystemPromptPublic]
    count: int


class SystemPromptUpdate(SQLModel):
    prompt: str = Field(min_length=1, max_length=20000)

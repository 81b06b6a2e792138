from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentSuperuser, CurrentUser, LimitQuery, SessionDep, SkipQuery
from app.models.system_prompt import (
    SystemPromptPublic,
    SystemPromptsPublic,
    SystemPromptUpdate,
)
from app.services import system_prompts as service

router = APIRouter(prefix="/system-prompts", tags=["system-prompts"])


@router.get("/", summary="Read System Prompts")
async def read_system_prompts(
    session: SessionDep, _: CurrentUser, skip: SkipQuery = 0, limit: LimitQuery = 100
) -> SystemPromptsPublic:
    """The stored system prompts (the prompt builder's base text and the LLM instructions)."""
    rows, count = await service.list_prompts(session, skip=skip, limit=limit)
    return SystemPromptsPublic(
        data=[SystemPromptPublic.model_validate(row) for row in rows], count=count
    )


@router.get("/{prompt_type}", summary="Read System Prompt")
async def read_system_prompt(
    session: SessionDep, _: CurrentUser, prompt_type: str
) -> SystemPromptPublic:
    return SystemPromptPublic.model_validate(await service.get_prompt(session, prompt_type))


@router.put("/{prompt_type}", summary="Upsert System Prompt")
async def upsert_system_prompt(
    session: SessionDep, _: CurrentSuperuser, prompt_type: str, body: SystemPromptUpdate
) -> SystemPromptPublic:
    """Create or replace a system prompt. Superuser only; takes effect on the next request."""
    prompt = await service.put_prompt(session, prompt_type, body.prompt)
    return SystemPromptPublic.model_validate(prompt)

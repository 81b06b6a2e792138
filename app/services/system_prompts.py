"""System prompts: stored texts the builder chain and the LLM calls start from.

Every known type has a default, seeded on first start and used whenever the row is missing,
so prompts keep working while an admin edits them at runtime.
"""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import Database
from app.core.errors import InvalidInput, NotFound
from app.core.ttl_cache import TtlCache, session_for
from app.models.system_prompt import PROMPT_TYPE_PATTERN, SystemPrompt
from app.repositories.system_prompts import SystemPromptRepository

BASE = "base"
NEGATIVE = "negative"
ENHANCEMENT = "enhancement"
PROMPT_GENERATION = "prompt_generation"
EDITING = "editing"

DEFAULT_SYSTEM_PROMPTS: dict[str, str] = {
    BASE: (
        "professional fashion e-commerce photograph, high-end studio quality, sharp focus, "
        "true-to-life garment colours, fabrics and fit"
    ),
    NEGATIVE: (
        "blurry, low quality, lowres, deformed hands, extra fingers, extra limbs, distorted "
        "garment, watermark, text, logo, cropped head"
    ),
    ENHANCEMENT: (
        "You rewrite image-generation prompts for a fashion e-commerce photo studio. Keep every "
        "subject, product, trigger word, framing and pose instruction of the input prompt; "
        "improve clarity, add concrete photographic detail, never invent brand names. Answer "
        "with the rewritten prompt only, on one line, without quotes or commentary."
    ),
    PROMPT_GENERATION: (
        "You write prompts for an image generator. Follow the requested mode exactly and "
        "answer with the prompt text only, without quotes, numbering or commentary."
    ),
    EDITING: (
        "You write instructions for an image-editing model that replaces the garment worn in "
        "a base photo with a reference garment. Describe the reference garment precisely "
        "(type, colour, pattern, material, fit) and ask to keep the person, pose, face, "
        "background and lighting unchanged. Answer with the instruction only."
    ),
}


# Read by every prompt request; an edit here is visible at once in this process and within
# CACHE_SECONDS in the others.
CACHE_SECONDS = 2.0
_cache: TtlCache[dict[str, str]] = TtlCache(CACHE_SECONDS)


def _check_type(prompt_type: str) -> None:
    if not re.fullmatch(PROMPT_TYPE_PATTERN, prompt_type):
        raise InvalidInput.field(
            ["path", "prompt_type"],
            "must be 1-64 lower-case letters, digits or underscores",
            prompt_type,
        )


async def list_prompts(
    session: AsyncSession, *, skip: int, limit: int
) -> tuple[list[SystemPrompt], int]:
    return await SystemPromptRepository(session).list_page(skip=skip, limit=limit)


async def get_prompt(session: AsyncSession, prompt_type: str) -> SystemPrompt:
    _check_type(prompt_type)
    prompt = await SystemPromptRepository(session).get(prompt_type)
    if prompt is None:
        raise NotFound("System prompt not found")
    return prompt


async def put_prompt(session: AsyncSession, prompt_type: str, text: str) -> SystemPrompt:
    """Create or replace the prompt of `prompt_type`."""
    _check_type(prompt_type)
    repo = SystemPromptRepository(session)
    prompt = await repo.get(prompt_type)
    if prompt is None:
        prompt = SystemPrompt(prompt_type=prompt_type, prompt=text)
    else:
        prompt.prompt = text
    saved = await repo.save(prompt)
    _cache.invalidate()
    return saved


async def texts(source: AsyncSession | Database, *prompt_types: str) -> dict[str, str]:
    """Stored texts, falling back to the defaults for rows that do not exist. With a
    `Database`, a session is opened only when the cache must be filled."""

    async def load() -> dict[str, str]:
        async with session_for(source) as session:
            return await SystemPromptRepository(session).texts(prompt_types)

    stored = await _cache.get(source, tuple(sorted(prompt_types)), load)
    return {t: stored.get(t) or DEFAULT_SYSTEM_PROMPTS.get(t, "") for t in prompt_types}


async def seed_defaults(session: AsyncSession) -> None:
    repo = SystemPromptRepository(session)
    existing = await repo.existing_types()
    for prompt_type, text in DEFAULT_SYSTEM_PROMPTS.items():
        if prompt_type not in existing:
            session.add(SystemPrompt(prompt_type=prompt_type, prompt=text))

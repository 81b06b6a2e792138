"""Choosing and calling the LLM behind prompt work (an `ai_core` generation model).

Every call is bounded by `LLM_TIMEOUT_SECONDS`; callers get `None` back (with the reason)
instead of an exception, so a missing, failing, slow or confused LLM always degrades to the
deterministic path and never to a 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.db import Database
from app.core.ttl_cache import TtlCache, session_for
from app.models.generation_model import GenerativeModel
from app.providers.ai_core import build_text_provider
from app.providers.base import InputImage, ProviderError, TextProvider
from app.providers.configs import AiCoreProviderConfig
from app.providers.enums import GenerationTool, ProviderCapability
from app.repositories.ai_core_models import list_ai_core_models

logger = logging.getLogger(__name__)

# Every prompt request asks whether an LLM is configured: the answer is kept briefly, so a
# model added or removed is picked up within MODELS_CACHE_SECONDS.
MODELS_CACHE_SECONDS = 2.0
_models: TtlCache[list[GenerativeModel]] = TtlCache(MODELS_CACHE_SECONDS)


def forget_models() -> None:
    """Drop the cached model list (after the catalogue of generation models changed)."""
    _models.invalidate()


# Longer answers are not prompts (a runaway or hostile model): twice what a request's own
# prompt may be.
MAX_ANSWER_CHARS = 8000


@dataclass
class LlmAnswer:
    text: str | None
    error: str | None = None
    model: str | None = None


@dataclass
class TextModel:
    name: str
    provider: TextProvider


def pick_model(
    models: list[GenerativeModel], tool: GenerationTool, *, vision: bool = False
) -> GenerativeModel | None:
    """The recommended model for `tool`, else any for `tool`, else a model declaring no tool at
    all (vision-capable if asked). A model declared for another tool (say, the EVALUATION
    judge) is never borrowed: its admin chose it for that job."""
    if vision:
        models = [m for m in models if ProviderCapability.VISION in (m.provider_capabilities or [])]
    for_tool = [m for m in models if tool in (m.tool_types or [])]
    untyped = [m for m in models if not m.tool_types]
    for group in (
        [m for m in for_tool if m.recommended],
        for_tool,
        [m for m in untyped if m.recommended],
        untyped,
    ):
        if group:
            return group[0]
    return None


async def text_model(
    source: AsyncSession | Database,
    settings: Settings,
    tool: GenerationTool = GenerationTool.PROMPT_GENERATION,
    *,
    vision: bool = False,
) -> TextModel | None:
    """The LLM to use for `tool`; `source`: the caller's session, or the database for a
    caller without one (a session is opened only to refill the cached model list)."""

    async def load() -> list[GenerativeModel]:
        async with session_for(source) as session:
            return await list_ai_core_models(session)

    model = pick_model(await _models.get(source, "ai_core", load), tool, vision=vision)
    if model is None:
        return None
    try:
        config = AiCoreProviderConfig.model_validate(model.provider_config or {})
        provider = build_text_provider(config, settings)
    except (ValidationError, ProviderError) as exc:
        logger.warning("ai_core model %s unusable: %s", model.name, exc)
        return None
    return TextModel(name=model.name, provider=provider)


async def release_connection(session: AsyncSession) -> None:
    """End a read-only request's transaction before a slow LLM call, so the pooled database
    connection goes back to the pool instead of waiting on the LLM (the session reconnects
    if it is used again)."""
    await session.commit()


_WRAPPERS = re.compile(r"^\s*(?:(?:enhanced |final |rewritten )?prompt\s*:\s*)", re.IGNORECASE)


def clean_answer(text: str) -> str:
    """Strip the labels and quotes LLMs like to add around a one-line answer."""
    text = _unquote(_WRAPPERS.sub("", _unquote(text.strip())))
    return " ".join(text.split())


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1].strip()
    return text


async def ask(
    model: TextModel,
    settings: Settings,
    *,
    system: str | None,
    prompt: str,
    images: list[InputImage] | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> LlmAnswer:
    try:
        async with asyncio.timeout(settings.LLM_TIMEOUT_SECONDS):
            raw = await model.provider.complete(
                system=system,
                prompt=prompt,
                images=images,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
            )
    except TimeoutError:
        return LlmAnswer(None, "timeout", model.name)
    except ProviderError as exc:
        logger.warning("LLM %s failed (%s): %s", model.name, exc.category, exc.message)
        return LlmAnswer(None, str(exc.category), model.name)
    except Exception:  # a provider bug must not turn into a 500: the fallback is always fine
        logger.exception("LLM %s raised unexpectedly", model.name)
        return LlmAnswer(None, "internal", model.name)
    text = clean_answer(raw)
    if not text:
        return LlmAnswer(None, "malformed_response", model.name)
    if len(text) > MAX_ANSWER_CHARS:
        # A prompt, not a document: the deterministic one is returned instead.
        logger.warning("LLM %s answered %d characters; not used", model.name, len(text))
        return LlmAnswer(None, "malformed_response", model.name)
    return LlmAnswer(text, None, model.name)

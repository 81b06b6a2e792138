"""The options a generation takes in `config` (the contract's free-form object), checked at
creation so that bad values are 422s naming `config.<key>`, never failures in the worker.

* `callback_url`: POSTed the generation's final state (see README, "Per-request callbacks");
* AGENTIC: `max_attempts` (1-10, default 3), `min_confidence_score` (0-1, default 0.7),
  `evaluation_provider`: "auto" (the vision-LLM judge when one is configured, else local),
  "local", or "llm" (requires a judge: an `ai_core` model with tool EVALUATION).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.errors import InvalidInput
from app.models.generation_model import GenerativeModel
from app.pipeline.agentic import DEFAULT_MAX_ATTEMPTS, DEFAULT_MIN_CONFIDENCE, MAX_ATTEMPTS_LIMIT
from app.providers.ai_core import build_text_provider
from app.providers.base import ProviderError
from app.providers.configs import AiCoreProviderConfig
from app.providers.enums import GenerationTool
from app.repositories.ai_core_models import list_ai_core_models
from app.services.webhooks import check_target

logger = logging.getLogger(__name__)

EVALUATION_PROVIDERS = ("auto", "local", "llm")


def _loc(key: str) -> list[str | int]:
    return ["body", "config", key]


def callback_url(config: dict[str, Any] | None) -> str | None:
    value = (config or {}).get("callback_url")
    return value if isinstance(value, str) and value else None


async def check_callback(config: dict[str, Any] | None, settings: Settings) -> None:
    if not config or config.get("callback_url") is None:
        return
    value = config["callback_url"]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput.field(_loc("callback_url"), "must be an http(s) URL", value)
    if len(value) > 2048:
        raise InvalidInput.field(_loc("callback_url"), "must be at most 2048 characters", value)
    await check_target(value, settings, _loc("callback_url"))


def parse_agentic(config: dict[str, Any] | None) -> dict[str, Any]:
    config = config or {}
    max_attempts = config.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if (
        isinstance(max_attempts, bool)
        or not isinstance(max_attempts, int)
        or not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT
    ):
        raise InvalidInput.field(
            _loc("max_attempts"),
            f"must be an integer between 1 and {MAX_ATTEMPTS_LIMIT}",
            max_attempts,
        )
    threshold = config.get("min_confidence_score", DEFAULT_MIN_CONFIDENCE)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0.0 <= threshold <= 1.0
    ):
        raise InvalidInput.field(
            _loc("min_confidence_score"), "must be a number between 0 and 1", threshold
        )
    provider = config.get("evaluation_provider", "auto")
    if provider not in EVALUATION_PROVIDERS:
        raise InvalidInput.field(
            _loc("evaluation_provider"),
            f"must be one of: {', '.join(EVALUATION_PROVIDERS)}",
            provider,
        )
    return {
        "max_attempts": max_attempts,
        "min_confidence_score": float(threshold),
        "evaluation_provider": provider,
    }


def _judge_candidates(models: list[GenerativeModel]) -> list[GenerativeModel]:
    evaluators = [m for m in models if GenerationTool.EVALUATION in (m.tool_types or [])]
    # Recommended first, then oldest (the repository lists oldest first).
    return sorted(evaluators, key=lambda m: not m.recommended)


async def choose_judge(session: AsyncSession, settings: Settings) -> dict[str, Any] | None:
    """The configured vision-LLM judge, snapshotted into the generation like its plan."""
    for model in _judge_candidates(await list_ai_core_models(session)):
        try:
            config = AiCoreProviderConfig.model_validate(model.provider_config or {})
            build_text_provider(config, settings)
        except (ValidationError, ProviderError) as exc:
            logger.warning("evaluation model %s unusable: %s", model.name, exc)
            continue
        return {
            "model_id": str(model.id),
            "name": model.name,
            "config": config.model_dump(mode="json"),
        }
    return None


async def resolve_agentic(
    session: AsyncSession, settings: Settings, config: dict[str, Any] | None
) -> dict[str, Any]:
    options = parse_agentic(config)
    judge = None
    if options["evaluation_provider"] != "local":
        judge = await choose_judge(session, settings)
        if judge is None and options["evaluation_provider"] == "llm":
            raise InvalidInput.field(
                _loc("evaluation_provider"),
                "no vision-LLM judge is configured: it needs an ai_core generation model "
                "with tool EVALUATION (use 'auto' or 'local')",
                "llm",
            )
    return options | {"judge": judge}

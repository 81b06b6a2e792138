"""Scoring a result 0-1: the local evaluator, or a vision-LLM judge with the local one behind it.

The judge is the `ai_core` generation model with tool EVALUATION chosen when the generation
was created (its config is in the generation's `inputs["agentic"]["judge"]`). Any failure of
the judge (unreachable, timeout, an answer that is not the JSON asked for) falls back to the
local evaluator, and the attempt records why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.core.config import Settings
from app.imaging.io import ImageInputError, decode_image, to_array
from app.imaging.quality import CRITERIA, Criterion, assess
from app.providers.ai_core import build_text_provider
from app.providers.base import InputImage, OutputImage, ProviderError
from app.providers.configs import AiCoreProviderConfig

logger = logging.getLogger(__name__)

JUDGE_SYSTEM = (
    "You are a strict quality judge for fashion e-commerce photographs. You compare a generated "
    "photograph with the product it must show and score it. Answer with one JSON object only, "
    'no prose: {"score": <0-1 overall>, "garment_fidelity": <0-1: colour, pattern and cut of '
    'the garment match the product>, "sharpness": <0-1>, "exposure": <0-1: no blown '
    'highlights or crushed shadows on the subject>, "issues": [<short phrases naming what is '
    "wrong, empty if nothing>]}"
)
JUDGE_CRITERIA = ("garment_fidelity", "sharpness", "exposure")


@dataclass
class Evaluation:
    # None when nothing could be measured (see `_evaluate_local_sync`).
    score: float | None
    evaluator: str
    criteria: list[dict[str, Any]]
    issues: list[str] = field(default_factory=list)
    fallback_reason: str | None = None
    # Facts the prompt adjustment can use (the product's colour, …).
    hints: dict[str, Any] = field(default_factory=dict)


def _evaluate_local_sync(
    data: bytes, product: bytes | None, family: str | None
) -> tuple[float | None, list[dict[str, Any]], dict[str, Any]]:
    try:
        pixels = to_array(decode_image(data))
    except ImageInputError as exc:
        # A result the decoder refuses (over 64 MP) is still the provider's image: it is kept,
        # unscored, rather than the prediction failing.
        reason = f"result image not measurable: {exc}"
        return None, [Criterion(name, None, 0.0, skipped=reason).as_dict() for name in CRITERIA], {}
    product_pixels = None
    if product is not None:
        try:
            product_pixels = to_array(decode_image(product))
        except ImageInputError:
            product_pixels = None
    report = assess(pixels, product_pixels, family)
    hints: dict[str, Any] = {}
    for criterion in report.criteria:
        if criterion.name == "garment_colour" and criterion.detail:
            hints["product_colour"] = criterion.detail.get("product_colour")
            hints["product_colour_name"] = criterion.detail.get("product_colour_name")
    return report.score, [c.as_dict() for c in report.criteria], hints


async def evaluate_local(
    image: OutputImage, product: InputImage | None, family: str | None
) -> Evaluation:
    score, criteria, hints = await asyncio.to_thread(
        _evaluate_local_sync, image.data, product.data if product else None, family
    )
    return Evaluation(score=score, evaluator="local", criteria=criteria, hints=hints)


class JudgeError(Exception):
    pass


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_judgement(text: str) -> tuple[float, list[dict[str, Any]], list[str]]:
    """The judge's JSON answer (code fences and surrounding prose tolerated)."""
    match = _JSON_OBJECT.search(text)
    if match is None:
        raise JudgeError("the judge did not answer with a JSON object")
    try:
        answer = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise JudgeError(f"the judge's JSON is invalid: {exc.msg}") from exc
    if not isinstance(answer, dict):
        raise JudgeError("the judge's answer is not a JSON object")

    def unit(value: Any, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise JudgeError(f"the judge's {name} is not a number")
        if not 0.0 <= float(value) <= 1.0:
            raise JudgeError(f"the judge's {name} {value} is outside 0-1")
        return float(value)

    score = unit(answer.get("score"), "score")
    criteria: list[dict[str, Any]] = [
        {
            "name": name,
            "score": unit(answer[name], name),
            "weight": 0.0,
            "value": None,
            "detail": {},
            "skipped": None,
        }
        for name in JUDGE_CRITERIA
        if answer.get(name) is not None
    ]
    raw_issues = answer.get("issues") or []
    issues = [str(i)[:200] for i in raw_issues][:8] if isinstance(raw_issues, list) else []
    return round(score, 4), criteria, issues


async def evaluate_with_judge(
    judge: dict[str, Any],
    settings: Settings,
    image: OutputImage,
    product: InputImage | None,
    prompt: str,
) -> Evaluation:
    try:
        config = AiCoreProviderConfig.model_validate(judge.get("config") or {})
        provider = build_text_provider(config, settings)
    except (ValidationError, ProviderError) as exc:
        raise JudgeError(f"judge model unusable: {exc}") from exc
    images = [InputImage(data=image.data, mime_type=image.mime_type, role="result")]
    question = (
        "Image 1 is the generated photograph. "
        + ("Image 2 is the product it must show. " if product is not None else "")
        + f"The photograph was generated from this prompt: {prompt}\n"
        "Score it as instructed."
    )
    if product is not None:
        images.append(product)
    try:
        async with asyncio.timeout(settings.LLM_TIMEOUT_SECONDS):
            answer = await provider.complete(
                system=JUDGE_SYSTEM, prompt=question, images=images, temperature=0.0
            )
    except TimeoutError as exc:
        raise JudgeError(
            f"the judge gave no answer within {settings.LLM_TIMEOUT_SECONDS:g}s"
        ) from exc
    except ProviderError as exc:
        raise JudgeError(f"the judge failed ({exc.category}): {exc.message}") from exc
    score, criteria, issues = parse_judgement(answer)
    return Evaluation(
        score=score, evaluator=f"llm:{judge.get('name')}", criteria=criteria, issues=issues
    )


async def evaluate(
    agentic: dict[str, Any],
    settings: Settings,
    image: OutputImage,
    product: InputImage | None,
    family: str | None,
    prompt: str,
) -> Evaluation:
    """The judge when one was chosen, else (or when it fails) the local evaluator."""
    judge = agentic.get("judge")
    local = await evaluate_local(image, product, family)
    if judge is None:
        return local
    try:
        judged = await evaluate_with_judge(judge, settings, image, product, prompt)
    except JudgeError as exc:
        logger.warning("LLM judge %s failed, using the local evaluator: %s", judge.get("name"), exc)
        local.fallback_reason = str(exc)
        return local
    except Exception as exc:  # a judge bug must not fail the prediction: local still scores
        logger.exception("LLM judge %s raised unexpectedly", judge.get("name"))
        local.fallback_reason = f"internal error: {type(exc).__name__}"
        return local
    # The local measures stay useful to adjust the prompt (the product colour to insist on).
    judged.hints = local.hints
    return judged

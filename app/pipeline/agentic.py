"""AGENTIC predictions: generate, score, and try again until the score is good enough.

Each attempt runs the whole plan once and is scored 0-1 (app/pipeline/evaluation.py). Below
`min_confidence_score` the next attempt gets a new seed (derived from the prediction's, so a
retry of the prediction walks the same seeds) and a prompt reinforced where the score was
low: the garment's colour and description when colour fidelity failed, focus when sharpness
failed, exposure when clipping failed, and the judge's own issues when an LLM judged. After
`max_attempts` the best-scoring attempt is kept. Every attempt is recorded. The loop stops
early when an attempt returns an image already scored (steps that ignore seed and prompt,
such as the image adjuster, would only repeat it) or one that cannot be measured.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.core.config import Settings
from app.models.generation import MAX_SEED, Generation
from app.pipeline.evaluation import Evaluation, evaluate
from app.pipeline.steps import StepFailed, StepsOutcome, run_plan
from app.providers.base import InputImage
from app.providers.registry import ProviderRegistry

Progress = Callable[[float, str | None], Awaitable[None]]

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MIN_CONFIDENCE = 0.7
MAX_ATTEMPTS_LIMIT = 10
# Failures another seed or prompt will not cure.
HOPELESS_CATEGORIES = frozenset({"invalid_input", "configuration"})
COLOUR_CRITERIA = ("garment_colour", "garment_fidelity")


def attempt_seed(seed: int, attempt: int) -> int:
    """Attempt 1 uses the prediction's seed; later ones a seed derived from it (batch siblings
    have consecutive seeds, so seed + n would repeat a sibling's image)."""
    if attempt <= 1:
        return seed
    digest = hashlib.sha256(f"{seed}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (MAX_SEED + 1)


@dataclass(frozen=True)
class Adjustment:
    key: str
    prompt: str
    negative: str | None = None


def adjustments_for(
    evaluation: Evaluation, threshold: float, generation: Generation
) -> list[Adjustment]:
    """What to reinforce after a low score, from the criteria that scored below the threshold
    (the weakest one when none did on its own)."""
    scored = [c for c in evaluation.criteria if c.get("score") is not None]
    low = [c for c in scored if c["score"] < threshold]
    if not low and scored:
        low = [min(scored, key=lambda c: c["score"])]
    adjustments: list[Adjustment] = []
    for criterion in low:
        name = criterion["name"]
        if name in COLOUR_CRITERIA:
            adjustments.append(_colour_adjustment(evaluation, generation))
        elif name == "sharpness":
            adjustments.append(
                Adjustment(
                    "sharpness",
                    "tack-sharp focus, crisp fabric texture and seams",
                    "blurry, soft focus, motion blur",
                )
            )
        elif name == "exposure":
            adjustments.append(
                Adjustment(
                    "exposure",
                    "even studio exposure with detail in highlights and shadows",
                    "overexposed, blown highlights, crushed shadows",
                )
            )
    if evaluation.issues:
        adjustments.append(Adjustment("issues", "correct: " + "; ".join(evaluation.issues[:4])))
    return adjustments


def _colour_adjustment(evaluation: Evaluation, generation: Generation) -> Adjustment:
    hex_code = evaluation.hints.get("product_colour")
    name = evaluation.hints.get("product_colour_name")
    request = generation.request or {}
    description = request.get("product_description")
    colour = f"{name} ({hex_code})" if hex_code and name else None
    text = (
        f"the garment is exactly {colour}, the same colour as the product image"
        if colour
        else "the garment matches the product image exactly in colour, pattern and cut"
    )
    if description:
        text += f", {description}"
    return Adjustment("garment_colour", text, "wrong garment colour, colour shift")


def _compose(base: str | None, additions: list[str]) -> str | None:
    parts = [p for p in [base or "", *additions] if p]
    return ", ".join(parts) if parts else None


def agentic_settings(generation: Generation) -> dict[str, Any]:
    stored = dict(generation.inputs.get("agentic") or {})
    stored.setdefault("max_attempts", DEFAULT_MAX_ATTEMPTS)
    stored.setdefault("min_confidence_score", DEFAULT_MIN_CONFIDENCE)
    stored.setdefault("evaluation_provider", "auto")
    stored.setdefault("judge", None)
    return stored


async def run_agentic(
    registry: ProviderRegistry,
    settings: Settings,
    generation: Generation,
    seed: int,
    images: list[InputImage],
    on_progress: Progress,
) -> StepsOutcome:
    options = agentic_settings(generation)
    max_attempts = int(options["max_attempts"])
    threshold = float(options["min_confidence_score"])
    product = next((image for image in images if image.role == "product"), None)
    family = generation.inputs.get("product_family")
    record: dict[str, Any] = {
        "max_attempts": max_attempts,
        "min_confidence_score": threshold,
        "evaluation_provider": options["evaluation_provider"],
        "judge_model": (options["judge"] or {}).get("name"),
        "attempts": [],
        "best_attempt": None,
        "score": None,
        "passed": False,
    }
    provider_attempts: list[dict[str, Any]] = []
    provider_ms = 0
    adjustments: dict[str, Adjustment] = {}
    best: tuple[float | None, int, StepsOutcome] | None = None
    last_failure: StepFailed | None = None

    for attempt in range(1, max_attempts + 1):
        attempt_seed_value = attempt_seed(seed, attempt)
        prompt = _compose(generation.prompt, [a.prompt for a in adjustments.values()]) or ""
        negative = _compose(
            generation.negative_prompt, [a.negative for a in adjustments.values() if a.negative]
        )

        async def scaled(fraction: float, message: str | None, attempt: int = attempt) -> None:
            label = f"attempt {attempt}/{max_attempts}" + (f": {message}" if message else "")
            await on_progress((attempt - 1 + fraction) / max_attempts, label)

        clock = time.perf_counter()
        entry: dict[str, Any] = {
            "attempt": attempt,
            "seed": attempt_seed_value,
            "prompt": prompt,
            "negative_prompt": negative,
            "adjustments": [a.key for a in adjustments.values()],
            "criteria": [],
            "issues": [],
            "evaluator": None,
            "evaluator_fallback_reason": None,
            "result_sha256": None,
            "provider": None,
            "score": None,
            "passed": False,
        }
        try:
            outcome = await run_plan(
                registry,
                settings,
                generation,
                attempt_seed_value,
                images,
                scaled,
                prompt=prompt,
                negative_prompt=negative,
            )
        except StepFailed as failure:
            provider_attempts += failure.attempts
            last_failure = failure
            entry |= {
                "status": "error",
                "error": failure.message,
                "duration_ms": _ms(clock),
            }
            record["attempts"].append(entry)
            if failure.category in HOPELESS_CATEGORIES:
                break
            continue
        provider_attempts += outcome.attempts
        provider_ms += outcome.provider_time_ms
        digest = hashlib.sha256(outcome.image.data).hexdigest()
        earlier = next((e for e in record["attempts"] if e.get("result_sha256") == digest), None)
        if earlier is not None:
            # The same bytes again: these steps ignore seed and prompt (a tool such as the
            # image adjuster), so every further attempt would repeat this one.
            entry |= {
                key: earlier[key]
                for key in ("score", "evaluator", "criteria", "issues", "result_sha256")
            }
            entry |= {
                "status": "duplicate",
                "provider": outcome.provider,
                "duration_ms": _ms(clock),
            }
            record["attempts"].append(entry)
            await on_progress(
                attempt / max_attempts,
                f"attempt {attempt}: same image as attempt {earlier['attempt']}, stopping",
            )
            break
        evaluation = await evaluate(options, settings, outcome.image, product, family, prompt)
        score = evaluation.score
        passed = score is not None and score >= threshold
        entry |= {
            "status": "scored" if score is not None else "unscored",
            "score": evaluation.score,
            "passed": passed,
            "evaluator": evaluation.evaluator,
            "evaluator_fallback_reason": evaluation.fallback_reason,
            "criteria": evaluation.criteria,
            "issues": evaluation.issues,
            "result_sha256": digest,
            "provider": outcome.provider,
            "duration_ms": _ms(clock),
        }
        record["attempts"].append(entry)
        if score is None:
            # Nothing measurable (a result too large to decode): the next attempt, planned to
            # the same size, would be no better. Keep the best scored result, else this one.
            if best is None:
                best = (None, attempt, outcome)
            break
        if best is None or best[0] is None or score > best[0]:
            best = (score, attempt, outcome)
        if passed:
            await on_progress(
                attempt / max_attempts, f"attempt {attempt}: score {evaluation.score}"
            )
            break
        for adjustment in adjustments_for(evaluation, threshold, generation):
            adjustments[adjustment.key] = adjustment
        if attempt < max_attempts:
            await on_progress(
                attempt / max_attempts,
                f"attempt {attempt}: score {evaluation.score} below {threshold}, retrying",
            )

    if best is None:
        assert last_failure is not None
        raise StepFailed(
            last_failure.message, last_failure.category, provider_attempts, evaluation=record
        )
    best_score, best_attempt, kept = best
    record |= {
        "best_attempt": best_attempt,
        "score": best_score,
        "passed": best_score is not None and best_score >= threshold,
    }
    kept.attempts = provider_attempts
    kept.provider_time_ms = provider_ms
    kept.evaluation = record
    return kept


def _ms(clock: float) -> int:
    return round((time.perf_counter() - clock) * 1000)

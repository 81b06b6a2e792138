"""The loop every tool runs on a region: enhance, colour-correct, check, retry, fall back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from app.imaging.color import histogram_match, lab_transfer
from app.imaging.consistency import ConsistencyChecker
from app.imaging.enhance import EnhancementFailed, Enhancer, EnhanceRequest

RGB = NDArray[np.uint8]
DebugSink = Callable[[str, RGB], None]


class ColourCorrection(StrEnum):
    NONE = "none"
    LAB = "lab_mean_std"
    HISTOGRAM = "histogram"


class OperationCancelled(Exception):
    """The caller asked the work to stop."""


def correct_colour(candidate: RGB, source: RGB, mode: ColourCorrection) -> RGB:
    if mode is ColourCorrection.LAB:
        return lab_transfer(candidate, source)
    if mode is ColourCorrection.HISTOGRAM:
        return histogram_match(candidate, source)
    return candidate


@dataclass
class PatchOutcome:
    pixels: RGB
    # False: every attempt failed and the source region was kept.
    accepted: bool
    attempts: int
    scores: list[dict[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "attempts": self.attempts,
            "scores": self.scores,
            **({"errors": self.errors} if self.errors else {}),
        }


def refine_patch(
    source: RGB,
    enhancer: Enhancer,
    checker: ConsistencyChecker,
    *,
    max_retries: int,
    colour: ColourCorrection,
    kind: str = "tile",
    scale: float = 1.0,
    prompt: str | None = None,
    cancel: threading.Event | None = None,
    debug: DebugSink | None = None,
    name: str = "patch",
) -> PatchOutcome:
    """Try up to 1 + max_retries enhancements; the first that passes the check wins, else the
    source comes back unchanged."""
    outcome = PatchOutcome(pixels=source, accepted=False, attempts=0)
    for attempt in range(max_retries + 1):
        if cancel is not None and cancel.is_set():
            raise OperationCancelled()
        outcome.attempts = attempt + 1
        try:
            candidate = enhancer(
                EnhanceRequest(source, attempt=attempt, kind=kind, scale=scale, prompt=prompt)
            )
        except EnhancementFailed as exc:
            outcome.errors.append(str(exc))
            continue
        if candidate.shape[:2] != source.shape[:2]:
            # Remote enhancers may answer at another size; compare like with like.
            candidate = np.asarray(
                cv2.resize(
                    candidate,
                    (source.shape[1], source.shape[0]),
                    interpolation=cv2.INTER_LANCZOS4,
                ),
                dtype=np.uint8,
            )
        candidate = np.ascontiguousarray(candidate[..., :3], dtype=np.uint8)
        candidate = correct_colour(candidate, source, colour)
        result = checker.check(source, candidate)
        outcome.scores.append({k: round(v, 4) for k, v in result.scores.items()})
        if debug is not None:
            debug(f"{name}_attempt{attempt}_{'pass' if result.passed else 'fail'}", candidate)
        if result.passed:
            outcome.pixels = candidate
            outcome.accepted = True
            return outcome
    return outcome

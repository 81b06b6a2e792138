"""Consistency of an enhanced region with its source: SSIM, and LPIPS / DISTS when available."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from app.imaging.metrics import MetricUnavailable, PairMetric, load_optional_metric, ssim

RGB = NDArray[np.uint8]

# Regions are compared at most this long: the check is about structure (what is where), which
# this resolution shows, and it keeps a 4K refine's checks a fraction of its run time.
CHECK_MAX_SIDE = 512


@dataclass(frozen=True)
class Thresholds:
    """SSIM is a similarity (pass when >= threshold); LPIPS and DISTS are distances
    (pass when <= threshold). 0 disables a metric."""

    ssim: float = 0.6
    lpips: float = 0.0
    dists: float = 0.0


@dataclass
class CheckResult:
    passed: bool
    scores: dict[str, float]
    failed: list[str]


def _check_copy(image: RGB, max_side: int) -> RGB:
    h, w = image.shape[:2]
    factor = max_side / max(h, w)
    if factor >= 1.0:
        return image
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


@dataclass
class ConsistencyChecker:
    thresholds: Thresholds
    max_side: int = CHECK_MAX_SIDE
    # Metrics that were requested (threshold > 0) but could not run, with the reason.
    skipped: dict[str, str] = field(default_factory=dict)
    _optional: dict[str, PairMetric] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("lpips", "dists"):
            if getattr(self.thresholds, name) > 0:
                try:
                    self._optional[name] = load_optional_metric(name)
                except MetricUnavailable as exc:
                    self.skipped[name] = str(exc)

    def check(self, source: RGB, candidate: RGB) -> CheckResult:
        if source.shape != candidate.shape:
            raise ValueError(f"shapes differ: {source.shape} vs {candidate.shape}")
        a = _check_copy(source, self.max_side)
        b = _check_copy(candidate, self.max_side)
        scores: dict[str, float] = {}
        failed: list[str] = []
        if self.thresholds.ssim > 0:
            scores["ssim"] = ssim(a, b)
            if scores["ssim"] < self.thresholds.ssim:
                failed.append("ssim")
        for name, metric in self._optional.items():
            scores[name] = metric(a, b)
            if scores[name] > getattr(self.thresholds, name):
                failed.append(name)
        return CheckResult(not failed, scores, failed)

    def describe(self) -> dict[str, Any]:
        """Per metric: its threshold and whether it ran, was disabled or was skipped (why)."""
        out: dict[str, Any] = {}
        for name in ("ssim", "lpips", "dists"):
            threshold = getattr(self.thresholds, name)
            if threshold <= 0:
                out[name] = {"status": "disabled", "threshold": threshold}
            elif name in self.skipped:
                out[name] = {
                    "status": "skipped",
                    "threshold": threshold,
                    "reason": self.skipped[name],
                }
            else:
                out[name] = {"status": "checked", "threshold": threshold}
        return out

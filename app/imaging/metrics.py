"""Image similarity metrics used by consistency checks.

SSIM is always available. LPIPS and DISTS are optional: they need PyTorch, their package
(`lpips`, `DISTS_pytorch`) and network weights, ~2 GB of RAM in all. `load_optional_metric`
reports why one is unavailable so callers can say the metric was skipped instead of passing.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _gray(image: Image.Image | NDArray[np.uint8]) -> NDArray[np.float32]:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"), dtype=np.float32)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 3:
        array = np.asarray(cv2.cvtColor(array, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    return array.astype(np.float32)


def ssim(a: Image.Image | NDArray[np.uint8], b: Image.Image | NDArray[np.uint8]) -> float:
    """Mean structural similarity (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5) on luma.

    Both images must have the same size; see `ssim_common_size` otherwise.
    """
    x, y = _gray(a), _gray(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in size: {x.shape} vs {y.shape}")

    # float32 throughout: 8-bit inputs keep ~4 significant digits of SSIM, at half the cost.
    def blur(img: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.asarray(
            cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT), dtype=np.float32
        )

    mu_x, mu_y = blur(x), blur(y)
    sigma_x = blur(x * x) - mu_x * mu_x
    sigma_y = blur(y * y) - mu_y * mu_y
    sigma_xy = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _C1) * (2 * sigma_xy + _C2)
    denominator = (mu_x**2 + mu_y**2 + _C1) * (sigma_x + sigma_y + _C2)
    return float(np.mean(numerator / denominator))


def ssim_common_size(a: Image.Image, b: Image.Image, max_side: int = 1024) -> float:
    """SSIM after bringing both images to the same size (the smaller one, capped at max_side)."""
    width, height = min(a.width, b.width), min(a.height, b.height)
    scale = min(1.0, max_side / max(width, height))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return ssim(a.resize(size, Image.Resampling.LANCZOS), b.resize(size, Image.Resampling.LANCZOS))


PairMetric = Callable[[NDArray[np.uint8], NDArray[np.uint8]], float]


class MetricUnavailable(RuntimeError):
    """An optional metric cannot run here; the message says why."""


def _require(*modules: str) -> None:
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise MetricUnavailable(f"package(s) not installed: {', '.join(missing)}")


def _to_tensor(torch: Any, image: NDArray[np.uint8]) -> Any:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


def _load_lpips() -> PairMetric:
    _require("torch", "lpips")
    torch = importlib.import_module("torch")
    lpips = importlib.import_module("lpips")
    try:
        model = lpips.LPIPS(net="alex", verbose=False).eval()
    except Exception as exc:  # weights missing or not downloadable (offline)
        raise MetricUnavailable(f"LPIPS weights could not be loaded: {exc}") from exc
    lock = threading.Lock()

    def distance(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
        # LPIPS expects [-1, 1].
        x, y = _to_tensor(torch, a) * 2 - 1, _to_tensor(torch, b) * 2 - 1
        with lock, torch.no_grad():
            return float(model(x, y).item())

    return distance


def _load_dists() -> PairMetric:
    _require("torch", "DISTS_pytorch")
    torch = importlib.import_module("torch")
    dists = importlib.import_module("DISTS_pytorch")
    try:
        model = dists.DISTS().eval()
    except Exception as exc:
        raise MetricUnavailable(f"DISTS weights could not be loaded: {exc}") from exc
    lock = threading.Lock()

    def distance(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
        with lock, torch.no_grad():
            return float(model(_to_tensor(torch, a), _to_tensor(torch, b)).mean().item())

    return distance


# Name -> loader; both return a distance (0 = identical, higher = more different).
OPTIONAL_METRIC_LOADERS: dict[str, Callable[[], PairMetric]] = {
    "lpips": _load_lpips,
    "dists": _load_dists,
}


@cache
def _load_cached(name: str, loader: Callable[[], PairMetric]) -> PairMetric | str:
    try:
        return loader()
    except MetricUnavailable as exc:
        return str(exc)


def load_optional_metric(name: str) -> PairMetric:
    """The metric, loaded once per process; raises MetricUnavailable with the reason."""
    loader = OPTIONAL_METRIC_LOADERS[name]
    loaded = _load_cached(name, loader)
    if isinstance(loaded, str):
        raise MetricUnavailable(loaded)
    return loaded

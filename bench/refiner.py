"""Ultimate refiner vs a plain Pillow Lanczos resize, measured in the same run.

Refines a synthetic 1024x1536 portrait to a 4K long edge (version '2', default settings) and
resizes the same image with Lanczos. Each is timed (best of N runs) and has its peak memory
measured in a fresh child process. Prints SSIM of each against the Lanczos result and the
sharpness (variance of the Laplacian) of both. Target: refine < 10x Lanczos time on 2 cores.

Run: .venv/bin/python -m bench.refiner [--repeat N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import tracemalloc
from typing import Any

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.imaging.io import decode_image, encode_image
from app.imaging.metrics import ssim
from app.imaging.refiner import FOUR_K_LONG_EDGE, RefinerSettings, refine
from tests.imaging.synthetic import portrait

SOURCE_SIZE = (1024, 1536)


def _target(size: tuple[int, int]) -> tuple[int, int]:
    factor = FOUR_K_LONG_EDGE / max(size)
    return round(size[0] * factor), round(size[1] * factor)


def _lanczos(image: Image.Image) -> Image.Image:
    return image.resize(_target(image.size), Image.Resampling.LANCZOS)


def _refine(image: Image.Image) -> Image.Image:
    return refine(image, RefinerSettings()).image


def _vm_hwm_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_child(kind: str, png: bytes, queue: Any) -> None:
    image = decode_image(png)
    tracemalloc.start()
    (_lanczos if kind == "lanczos" else _refine)(image)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # tracemalloc sees numpy's (and so OpenCV's) buffers; Pillow's image memory is not traced,
    # so the child's whole-process peak RSS is reported too (VmHWM: unlike ru_maxrss it is
    # not inherited from the parent across exec).
    rss = _vm_hwm_mib()
    queue.put((peak / 2**20, rss))


def peak_memory_mib(kind: str, png: bytes) -> tuple[float, float]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_child, args=(kind, png, queue))
    child.start()
    traced, rss = queue.get(timeout=600)
    child.join()
    return float(traced), float(rss)


def sharpness(image: Image.Image) -> float:
    return float(cv2.Laplacian(np.asarray(image.convert("L")), cv2.CV_64F).var())


def best_time(fn: Any, image: Image.Image, repeat: int) -> tuple[float, Image.Image]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(image)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    image = portrait(*SOURCE_SIZE).image
    # Warm-up: imports, OpenCV thread pool, cascade loading.
    refine(image.resize((256, 384)), RefinerSettings(version="1"))

    lanczos_s, lanczos_img = best_time(_lanczos, image, args.repeat)
    refine_s, refined_img = best_time(_refine, image, args.repeat)
    png, _ = encode_image(image)
    lanczos_mib = peak_memory_mib("lanczos", png)
    refine_mib = peak_memory_mib("refine", png)

    print(f"source {image.width}x{image.height} -> {refined_img.width}x{refined_img.height}")
    print(f"cpus available: {len(os.sched_getaffinity(0))}, best of {args.repeat}")
    header = f"{'':10} {'time s':>8} {'numpy peak MiB':>15} {'process peak RSS MiB':>21}"
    print(f"{header} {'SSIM vs Lanczos':>16} {'sharpness':>10}")
    rows = (
        ("lanczos", lanczos_s, lanczos_mib, 1.0, sharpness(lanczos_img)),
        ("refiner", refine_s, refine_mib, ssim(refined_img, lanczos_img), sharpness(refined_img)),
    )
    for name, seconds, (traced, rss), similarity, sharp in rows:
        print(
            f"{name:10} {seconds:8.3f} {traced:15.1f} {rss:21.1f} {similarity:16.4f} {sharp:10.2f}"
        )
    ratio = refine_s / lanczos_s
    print(f"refine / lanczos time: {ratio:.2f}x (target < 10x) -> {'OK' if ratio < 10 else 'OVER'}")


if __name__ == "__main__":
    main()

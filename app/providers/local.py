"""`local`: the offline preview renderer, the zero-configuration default.

It is honest about what it is: a deterministic, seeded layout preview (background and tone,
the product image placed where the shot type's framing puts the garment, the subject's cover
image), stamped "PREVIEW", not an AI image. Work is dispatched on `request.task` through a
handler table, so other offline tools (image adjuster, background fixer, …) plug in as
handlers; handlers are synchronous and run in a worker thread, off the event loop. A handler
returns the image, or the image and a report (what it measured and chose), which is kept in
the result's metadata and so in the prediction's manifest.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable
from typing import Any, ClassVar

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from app.providers.base import (
    ErrorCategory,
    ImageProvider,
    InputImage,
    OutputImage,
    ProgressCallback,
    ProviderError,
    ProviderHandle,
    ProviderRequest,
    ProviderResult,
    _no_progress,
)
from app.providers.configs import LocalConfig
from app.providers.enums import ProviderCapability, ProviderType

LocalHandler = Callable[[ProviderRequest], OutputImage | tuple[OutputImage, dict[str, Any]]]
HANDLERS: dict[ProviderCapability, LocalHandler] = {}
# Features (not tasks) the renderer honours.
FEATURES = frozenset(
    {
        ProviderCapability.SEED,
        ProviderCapability.NEGATIVE_PROMPT,
        ProviderCapability.REFERENCE_IMAGES,
    }
)
MAX_PIXELS = 4096 * 4096


def register_local_handler(task: ProviderCapability, handler: LocalHandler) -> None:
    """Add an offline tool; call before `register_builtin_providers()` runs."""
    HANDLERS[task] = handler


def local_capabilities() -> frozenset[ProviderCapability]:
    return frozenset(HANDLERS) | FEATURES


class LocalProvider(ImageProvider[LocalConfig]):
    provider_type: ClassVar[ProviderType] = ProviderType.LOCAL
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset()

    def supports(self, task: ProviderCapability) -> bool:
        return task in HANDLERS

    async def submit(self, request: ProviderRequest) -> ProviderHandle:
        if request.task not in HANDLERS:
            raise ProviderError(
                f"the local renderer cannot do {request.task.value}", ErrorCategory.INVALID_INPUT
            )
        if request.width * request.height > MAX_PIXELS:
            raise ProviderError("requested size too large", ErrorCategory.INVALID_INPUT)
        return ProviderHandle(request=request)

    async def result(
        self, handle: ProviderHandle, on_progress: ProgressCallback = _no_progress
    ) -> ProviderResult:
        request = handle.request
        handler = HANDLERS[request.task]
        images = []
        reports: list[dict[str, Any]] = []
        for index in range(max(1, request.num_images)):
            seeded = request
            if request.seed is not None and index:
                seeded = _with_seed(request, request.seed + index)
            try:
                produced = await asyncio.to_thread(handler, seeded)
            except ProviderError:
                raise
            except (OSError, ValueError) as exc:
                raise ProviderError(
                    f"cannot read an input image: {exc}", ErrorCategory.INVALID_INPUT
                ) from exc
            except cv2.error as exc:
                # OpenCV asserts on inputs it cannot work with (degenerate shapes, sizes).
                raise ProviderError(
                    f"cannot process the input image: {str(exc).strip()}",
                    ErrorCategory.INVALID_INPUT,
                ) from exc
            if isinstance(produced, tuple):
                image, report = produced
                reports.append(report)
            else:
                image = produced
            images.append(image)
            await on_progress((index + 1) / max(1, request.num_images), None)
        metadata: dict[str, Any] = {"renderer": "local", "task": request.task.value}
        if reports:
            metadata["report"] = reports[0] if len(reports) == 1 else reports
        return ProviderResult(images=images, metadata=metadata)


def _with_seed(request: ProviderRequest, seed: int) -> ProviderRequest:
    from dataclasses import replace

    return replace(request, seed=seed % 2**32)


# --- rendering ---------------------------------------------------------------------------

NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (244, 244, 242),
    "black": (22, 22, 24),
    "grey": (150, 150, 150),
    "gray": (150, 150, 150),
    "beige": (222, 205, 178),
    "cream": (243, 234, 214),
    "sand": (214, 196, 160),
    "pink": (238, 190, 200),
    "red": (196, 54, 48),
    "orange": (232, 140, 60),
    "yellow": (238, 214, 96),
    "green": (120, 170, 120),
    "olive": (128, 128, 72),
    "blue": (92, 138, 200),
    "navy": (34, 48, 92),
    "purple": (140, 96, 170),
    "brown": (120, 82, 56),
    "studio": (232, 232, 228),
}
# Where the garment sits, as (left, top, right, bottom) fractions of the frame.
FRAMING_BOXES: dict[str, tuple[float, float, float, float]] = {
    "full body": (0.30, 0.28, 0.70, 0.78),
    "upper body": (0.22, 0.38, 0.78, 0.98),
    "upper three quarters": (0.25, 0.32, 0.75, 0.92),
    "lower body": (0.25, 0.05, 0.75, 0.80),
    "lower three quarters": (0.27, 0.10, 0.73, 0.75),
    "detail": (0.10, 0.10, 0.90, 0.90),
}
DEFAULT_BOX = FRAMING_BOXES["full body"]


def _colour_for(text: str | None) -> tuple[int, int, int]:
    if text:
        lowered = text.lower()
        for name, rgb in NAMED_COLOURS.items():
            if name in lowered:
                return rgb
        digest = hashlib.sha256(lowered.encode()).digest()
        return (150 + digest[0] % 90, 150 + digest[1] % 90, 150 + digest[2] % 90)
    return NAMED_COLOURS["studio"]


def _apply_tone(rgb: tuple[int, int, int], tone: str | None) -> tuple[int, int, int]:
    r, g, b = rgb
    lowered = (tone or "").lower()
    if "warm" in lowered:
        r, b = r + 18, b - 18
    if "cool" in lowered or "cold" in lowered:
        r, b = r - 18, b + 18
    if "dark" in lowered or "moody" in lowered:
        r, g, b = int(r * 0.6), int(g * 0.6), int(b * 0.6)
    if "bright" in lowered or "light" in lowered or "airy" in lowered:
        r, g, b = r + 20, g + 20, b + 20
    return (max(0, min(255, r)), max(0, min(255, g)), max(0, min(255, b)))


def _framing_box(framing: str | None) -> tuple[float, float, float, float]:
    lowered = (framing or "").lower().replace("_", " ")
    # Longest names first, so "upper three quarters" wins over "upper body".
    for name in sorted(FRAMING_BOXES, key=len, reverse=True):
        if name in lowered:
            return FRAMING_BOXES[name]
    if "close" in lowered:
        return FRAMING_BOXES["detail"]
    return DEFAULT_BOX


def _open(image: InputImage) -> Image.Image:
    opened = Image.open(io.BytesIO(image.data))
    opened.load()
    return ImageOps.exif_transpose(opened).convert("RGBA")


def _background(request: ProviderRequest) -> Image.Image:
    width, height = request.width, request.height
    base = np.array(
        _apply_tone(_colour_for(request.options.get("background")), request.options.get("tone")),
        dtype=np.float32,
    )
    rng = np.random.default_rng(request.seed if request.seed is not None else 0)
    # A seeded vertical light falloff plus faint grain: same seed, same pixels.
    falloff = np.linspace(1.06, 0.90 + rng.uniform(-0.04, 0.04), height, dtype=np.float32)
    grain = rng.normal(0.0, 2.0, (height, 1, 1)).astype(np.float32)
    column = base[None, None, :] * falloff[:, None, None] + grain
    pixels = np.clip(np.broadcast_to(column, (height, width, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB").convert("RGBA")


def _fit(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[Image.Image, tuple[int, int]]:
    left, top, right, bottom = box
    fitted = ImageOps.contain(image, (max(1, right - left), max(1, bottom - top)))
    x = left + (right - left - fitted.width) // 2
    y = top + (bottom - top - fitted.height) // 2
    return fitted, (x, y)


def _box_pixels(
    fractions: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    left, top, right, bottom = fractions
    return (int(left * width), int(top * height), int(right * width), int(bottom * height))


def _stamp(canvas: Image.Image, request: ProviderRequest, label: str) -> None:
    draw = ImageDraw.Draw(canvas)
    size = max(10, min(canvas.width, canvas.height) // 32)
    font = ImageFont.load_default(size=size)
    text = f"PREVIEW - {label} - not AI - seed {request.seed if request.seed is not None else '-'}"
    draw.rectangle((0, canvas.height - size - 8, canvas.width, canvas.height), fill=(0, 0, 0, 140))
    draw.text((6, canvas.height - size - 5), text, fill=(255, 255, 255, 255), font=font)


def _encode(canvas: Image.Image, request: ProviderRequest) -> OutputImage:
    buffer = io.BytesIO()
    canvas.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return OutputImage(
        data=buffer.getvalue(),
        mime_type="image/png",
        width=canvas.width,
        height=canvas.height,
        seed=request.seed,
    )


def render_preview(request: ProviderRequest) -> OutputImage:
    """TEXT_TO_IMAGE: the scene laid out as the shot type frames it."""
    width, height = request.width, request.height
    canvas = _background(request)
    rng = np.random.default_rng(request.seed if request.seed is not None else 0)
    draw = ImageDraw.Draw(canvas)
    box = _box_pixels(_framing_box(request.options.get("framing")), width, height)
    r, g, b, _ = canvas.getpixel((width // 2, height // 2))  # type: ignore[misc]
    shade = (int(r * 0.82), int(g * 0.82), int(b * 0.82))
    # A seeded silhouette stands where the model would; the garment box sits on it.
    sway = int(rng.uniform(-0.03, 0.03) * width)
    cx = (box[0] + box[2]) // 2 + sway
    head = max(4, (box[2] - box[0]) // 5)
    head_top = max(0, box[1] - head * 2 - head // 2)
    draw.ellipse((cx - head, head_top, cx + head, head_top + head * 2), fill=(*shade, 255))
    draw.rounded_rectangle(
        (box[0] + sway, box[1] - head // 2, box[2] + sway, min(height, box[3] + head)),
        radius=head,
        fill=(*shade, 255),
    )
    subject = request.image("subject")
    if subject is not None:
        portrait, at = _fit(_open(subject), (cx - head, head_top, cx + head, head_top + head * 2))
        canvas.alpha_composite(portrait, at)
    for role, inset in (("product", 0.0), ("product2", 0.5)):
        product = request.image(role)
        if product is None:
            continue
        left, top, right, bottom = box
        if request.image("product2") is not None:
            # Two products share the garment box: first on top, second below.
            mid = top + (bottom - top) // 2
            top, bottom = (top, mid) if inset == 0.0 else (mid, bottom)
        fitted, at = _fit(_open(product), (left + sway, top, right + sway, bottom))
        canvas.alpha_composite(fitted, at)
    _stamp(canvas, request, "local renderer")
    return _encode(canvas, request)


def render_edit(request: ProviderRequest) -> OutputImage:
    """IMAGE_EDITING: the product placed over the garment area of the base image."""
    base = request.image("base")
    if base is None:
        raise ProviderError("editing needs a base image", ErrorCategory.INVALID_INPUT)
    canvas = ImageOps.fit(_open(base), (request.width, request.height))
    product = request.image("product")
    if product is not None:
        box = _box_pixels(_framing_box(request.options.get("framing")), canvas.width, canvas.height)
        fitted, at = _fit(_open(product), box)
        canvas.alpha_composite(fitted, at)
    _stamp(canvas, request, "local garment placement")
    return _encode(canvas, request)


def render_upscale(request: ProviderRequest) -> OutputImage:
    """UPSCALE: a plain Lanczos resize to the target size (no detail is invented)."""
    base = request.image("base")
    if base is None:
        raise ProviderError("upscaling needs a base image", ErrorCategory.INVALID_INPUT)
    image = _open(base)
    width, height = request.target_width, request.target_height
    if width is None or height is None:
        factor = request.scale_factor or 1.0
        width = width or round(image.width * factor)
        height = height or round(image.height * factor)
    if width * height > MAX_PIXELS:
        raise ProviderError("requested size too large", ErrorCategory.INVALID_INPUT)
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    return _encode(resized, request)


register_local_handler(ProviderCapability.TEXT_TO_IMAGE, render_preview)
register_local_handler(ProviderCapability.IMAGE_EDITING, render_edit)
register_local_handler(ProviderCapability.UPSCALE, render_upscale)

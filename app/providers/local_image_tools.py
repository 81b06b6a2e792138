"""The image adjuster and background fixer, served by the `local` provider's handler table."""

from __future__ import annotations

from typing import Any

from app.imaging.adjust import adjust_image
from app.imaging.background import parse_background_text, replace_background
from app.imaging.detection import Box
from app.imaging.io import ImageInputError, decode_image, encode_image
from app.providers.base import ErrorCategory, OutputImage, ProviderError, ProviderRequest
from app.providers.enums import ProviderCapability
from app.providers.local import register_local_handler


def _base(request: ProviderRequest) -> bytes:
    image = request.image("base") or (request.images[0] if request.images else None)
    if image is None:
        raise ProviderError(
            f"{request.task.value} needs an input image (role 'base')", ErrorCategory.INVALID_INPUT
        )
    return image.data


def _output(image_data: tuple[bytes, str], width: int, height: int) -> OutputImage:
    data, mime = image_data
    return OutputImage(data=data, mime_type=mime, width=width, height=height)


def adjust_handler(request: ProviderRequest) -> tuple[OutputImage, dict[str, Any]]:
    try:
        result = adjust_image(decode_image(_base(request)))
    except ImageInputError as exc:
        raise ProviderError(f"input image: {exc}", ErrorCategory.INVALID_INPUT) from exc
    image = result.image
    return _output(encode_image(image), image.width, image.height), result.report


def background_handler(request: ProviderRequest) -> tuple[OutputImage, dict[str, Any]]:
    """options: `background_color` (#RRGGBB or [r, g, b]) or `background` (a preset name, or a
    colour); `subject_box` optionally replaces person detection."""
    options = request.options
    color = options.get("background_color")
    preset = options.get("background_preset")
    free = options.get("background")
    try:
        if color is None and preset is None and isinstance(free, str):
            color = parse_background_text(free)
        subject = Box.parse(options["subject_box"]) if options.get("subject_box") else None
        result = replace_background(
            decode_image(_base(request)), color=color, preset=preset, subject=subject
        )
    except ImageInputError as exc:
        raise ProviderError(f"input image: {exc}", ErrorCategory.INVALID_INPUT) from exc
    except ValueError as exc:
        raise ProviderError(str(exc), ErrorCategory.INVALID_INPUT) from exc
    image = result.image
    return _output(encode_image(image), image.width, image.height), result.report


def register_local_image_tools() -> None:
    register_local_handler(ProviderCapability.IMAGE_ADJUSTING, adjust_handler)
    register_local_handler(ProviderCapability.BACKGROUND_FIXING, background_handler)

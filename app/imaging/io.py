"""Decoding and encoding of image bytes, with the input checks every image tool shares."""

from __future__ import annotations

import io
import warnings

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

# 64 MP covers an 8K square; beyond that a request is almost surely a mistake or an attack
# (decoding alone would need gigabytes of RAM).
MAX_INPUT_PIXELS = 8192 * 8192
MIN_INPUT_SIDE = 8
# 16-bit greyscale PNGs open as I;16 (older Pillow: I, 32-bit holding the 16-bit values).
SIXTEEN_BIT_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})

RGB = NDArray[np.uint8]


class ImageInputError(ValueError):
    """The image cannot be used: empty, corrupt, too large or too small."""


def decode_image(data: bytes, *, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Decode bytes into an upright RGB image, refusing empty, corrupt, huge or tiny input."""
    if not data:
        raise ImageInputError("image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            # The header gives the size before any pixel is decoded.
            width, height = image.size
            if width * height > max_pixels:
                raise ImageInputError(
                    f"image is too large: {width}x{height} = {width * height} pixels "
                    f"(limit {max_pixels})"
                )
            image.load()
            # Cameras store the sensor's orientation and a tag saying how to turn it: the
            # tools (and the `local` renderer) work on the image as it is meant to be seen.
            ImageOps.exif_transpose(image, in_place=True)
    except ImageInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError("image data is not a supported image format or is corrupt") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"image data is corrupt: {exc}") from None
    return ensure_usable(image)


def ensure_usable(image: Image.Image) -> Image.Image:
    """Check the size of an already-decoded image and bring it to RGB."""
    if min(image.size) < MIN_INPUT_SIDE:
        raise ImageInputError(
            f"image is too small: {image.width}x{image.height} "
            f"(each side must be at least {MIN_INPUT_SIDE} px)"
        )
    if image.mode == "RGB":
        return image
    if image.mode in SIXTEEN_BIT_GREY_MODES:
        # convert("RGB") clips 16-bit values at 255, turning nearly every grey white: keep
        # the high byte instead.
        grey = np.asarray(image).astype(np.int64).clip(0, 0xFFFF) >> 8
        return Image.fromarray(grey.astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white, the usual e-commerce backdrop.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def encode_image(image: Image.Image, fmt: str = "PNG") -> tuple[bytes, str]:
    """Encode to bytes; returns (data, mime type)."""
    fmt = fmt.upper()
    if fmt == "JPG":
        fmt = "JPEG"
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=95)
    elif fmt == "WEBP":
        image.save(buffer, format="WEBP", quality=95)
    else:
        fmt = "PNG"
        # Level 1: 4K PNGs at the default level cost seconds for a few percent of size.
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue(), f"image/{fmt.lower()}"


def to_array(image: Image.Image) -> RGB:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def to_image(array: RGB) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="RGB")

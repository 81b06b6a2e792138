"""Loading untrusted images: data URLs, http(s) URLs and local paths, one way everywhere.

- data URLs: base64 only; bad base64 is a 400.
- http(s) URLs: through `app.core.url_guard` (public addresses only unless allow-listed,
  redirects re-checked, size and time capped).
- local paths: only inside `settings.data_files_dir`; `..` and symlinks leading out are refused.
- every image: at most `IMAGE_MAX_BYTES` bytes and `IMAGE_MAX_PIXELS` pixels (read from the
  header before decoding, so decompression bombs are never expanded); the format is sniffed
  by Pillow from the bytes, never taken from a name or a declared content type.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from app.core.config import Settings
from app.core.errors import AppError, BadRequest
from app.core.url_guard import FetchError, UnsafeURLError, fetch_url

ALLOWED_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


class ImageLoadError(BadRequest):
    """The image source is malformed, unreachable, refused or not a readable image (400)."""


class ImageTooLarge(AppError):
    status_code = 413
    detail = "Image too large"


class UnsupportedImage(AppError):
    status_code = 415
    detail = "Unsupported image format"


@dataclass(frozen=True)
class LoadedImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    # Where it came from: "data_url", "url" or "path".
    origin: str = "data_url"

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def open(self) -> Image.Image:
        """A fresh Pillow image of the (already validated) bytes."""
        return Image.open(io.BytesIO(self.data))


def inspect_image(data: bytes, settings: Settings, origin: str = "data_url") -> LoadedImage:
    """Validate raw bytes as an image within the limits (blocking: run it in a thread)."""
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise ImageTooLarge(f"Image larger than {settings.IMAGE_MAX_BYTES} bytes")
    if not data:
        raise ImageLoadError("Image is empty")
    try:
        image = Image.open(io.BytesIO(data))
        fmt = image.format or ""
        width, height = image.size
        if fmt not in ALLOWED_FORMATS:
            raise UnsupportedImage(
                f"Unsupported image format {fmt or 'unknown'}; use JPEG, PNG, WEBP or GIF"
            )
        if width * height > settings.IMAGE_MAX_PIXELS:
            raise ImageTooLarge(
                f"Image of {width}x{height} pixels exceeds {settings.IMAGE_MAX_PIXELS} pixels"
            )
        # Decoding proves the data is complete and not corrupt.
        image.load()
    except (UnidentifiedImageError, ValueError) as exc:
        raise UnsupportedImage("Data is not an image in a supported format") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge("Image exceeds the pixel limit") from exc
    except (OSError, SyntaxError) as exc:
        raise ImageLoadError(f"Image data is truncated or corrupt: {exc}") from exc
    return LoadedImage(data, ALLOWED_FORMATS[fmt], width, height, origin)


def _decode_data_url(source: str, settings: Settings) -> bytes:
    header, sep, payload = source.partition(",")
    if not sep:
        raise ImageLoadError("Malformed data URL: missing ','")
    if not header.lower().endswith(";base64"):
        raise ImageLoadError("Data URLs must be base64-encoded (data:<type>;base64,...)")
    payload = "".join(payload.split())
    if len(payload) * 3 // 4 > settings.IMAGE_MAX_BYTES + 3:
        raise ImageTooLarge(f"Image larger than {settings.IMAGE_MAX_BYTES} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageLoadError("Invalid base64 in data URL") from exc


def _read_data_url(source: str, settings: Settings) -> LoadedImage:
    return inspect_image(_decode_data_url(source, settings), settings, "data_url")


def resolve_local_path(source: str, settings: Settings) -> Path:
    """The real path of `source`, which must stay inside the data files directory."""
    root = settings.data_files_dir
    if "\x00" in source:
        raise ImageLoadError("Image paths may not contain NUL characters")
    raw = Path(source)
    if ".." in raw.parts:
        raise ImageLoadError("Image paths may not contain '..'")
    candidate = raw if raw.is_absolute() else root / raw
    try:
        real = candidate.resolve()
        found = real.exists()
    except (OSError, RuntimeError) as exc:
        raise ImageLoadError("Image path cannot be resolved") from exc
    # The server's own files are refused as if absent, before anything is said of them.
    if not found or any(real.is_relative_to(private) for private in settings.private_paths):
        raise ImageLoadError("Image file not found")
    # Checked on the resolved path, so a symlink pointing outside is refused too.
    if not real.is_relative_to(root):
        raise ImageLoadError("Image paths must be inside the data files directory")
    if not real.is_file():
        raise ImageLoadError("Image path is not a file")
    return real


def _read_local(source: str, settings: Settings) -> LoadedImage:
    path = resolve_local_path(source, settings)
    if path.stat().st_size > settings.IMAGE_MAX_BYTES:
        raise ImageTooLarge(f"Image larger than {settings.IMAGE_MAX_BYTES} bytes")
    with path.open("rb") as handle:
        data = handle.read(settings.IMAGE_MAX_BYTES + 1)
    return inspect_image(data, settings, origin="path")


def source_scheme(source: str) -> str | None:
    """An image source's scheme (data, http or https), or None for a local path; empty
    sources and other schemes are refused."""
    source = source.strip()
    if not source:
        raise ImageLoadError("Image source is empty")
    match = _SCHEME.match(source)
    scheme = match.group(1).lower() if match else None
    # One-letter "schemes" are Windows drive letters, i.e. paths.
    if scheme is None or len(scheme) == 1:
        return None
    if scheme not in ("data", "http", "https"):
        raise ImageLoadError(
            f"Unsupported image source scheme '{scheme}'; use a data URL, http(s) URL or path"
        )
    return scheme


async def load_image(source: str, settings: Settings) -> LoadedImage:
    """Load and validate an image given as a data URL, an http(s) URL or a local path."""
    source = source.strip()
    scheme = source_scheme(source)
    if scheme == "data":
        # Decoding megabytes of base64 would stall the event loop: both steps run in a thread.
        return await asyncio.to_thread(_read_data_url, source, settings)
    if scheme in ("http", "https"):
        try:
            fetched = await fetch_url(
                source,
                settings.outbound_policy,
                max_bytes=settings.IMAGE_MAX_BYTES,
                timeout=settings.IMAGE_FETCH_TIMEOUT_SECONDS,
            )
        except UnsafeURLError as exc:
            raise ImageLoadError(f"Image URL refused: {exc}") from exc
        except FetchError as exc:
            if "larger than" in str(exc):
                raise ImageTooLarge(f"Image {exc}") from exc
            raise ImageLoadError(f"Could not fetch image URL: {exc}") from exc
        return await asyncio.to_thread(inspect_image, fetched.content, settings, "url")
    return await asyncio.to_thread(_read_local, source, settings)

"""Input images of a generation: data URLs, guarded http(s) URLs or confined local paths."""

from __future__ import annotations

import asyncio

from app.core.config import Settings
from app.core.errors import AppError
from app.core.url_guard import FetchError, UnsafeURLError, check_url
from app.imaging.loading import LoadedImage, resolve_local_path, source_scheme
from app.imaging.loading import load_image as load_untrusted_image
from app.providers.base import ErrorCategory, InputImage, ProviderError


class InputImageError(ValueError):
    pass


async def check_image_reference(source: str, settings: Settings, *, min_side: int = 0) -> None:
    """At creation: refuse references we will never be allowed or able to read and, with
    `min_side`, images with a side shorter than that. URLs are not fetched before the run, so
    their size is only checked by the worker."""
    source = source.strip()
    loaded: LoadedImage | None = None
    try:
        scheme = source_scheme(source)
        if scheme in ("http", "https"):
            await check_url(source, settings.outbound_policy)
        elif scheme == "data" or min_side:
            loaded = await load_untrusted_image(source, settings)
        else:
            await asyncio.to_thread(resolve_local_path, source, settings)
    except (UnsafeURLError, FetchError) as exc:
        raise InputImageError(str(exc)) from exc
    except AppError as exc:
        raise InputImageError(exc.detail) from exc
    if loaded is not None and min(loaded.size) < min_side:
        raise InputImageError(
            f"image is too small: {loaded.width}x{loaded.height} "
            f"(each side must be at least {min_side} px)"
        )


async def load_image(source: str, role: str, settings: Settings) -> InputImage:
    try:
        loaded = await load_untrusted_image(source, settings)
    except AppError as exc:
        raise ProviderError(
            f"cannot load the {role} image: {exc.detail}", ErrorCategory.INVALID_INPUT
        ) from exc
    return InputImage(data=loaded.data, mime_type=loaded.mime_type, role=role)
